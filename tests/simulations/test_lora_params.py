"""Tests for the chapter 3 LoRA parameter counter: the spec's 41,943,040 / 0.52%, its rank table, and
exact agreement with peft on meta-device models built from the preset configurations.
"""

import pytest

from simulations import lora_params
from simulations.params import ParamError, parse_params

ALL = ",".join(lora_params.MODULES)


def test_llama_31_8b_at_rank_16_on_all_seven_modules_matches_the_spec():
    result = lora_params.simulate(lora_params.Params(preset="llama-3.1-8b", r=16, targets=ALL))
    assert result.trainable_params == 41_943_040
    assert result.total_params == 8_072_204_288  # print_trainable_parameters' "all params"
    assert round(result.trainable_percent, 2) == 0.52


@pytest.mark.parametrize("r, millions, percent", [(4, 10, "0.13"), (8, 21, "0.26"), (16, 42, "0.52"), (64, 168, "2.1")])
def test_reproduces_the_spec_rank_table_for_a_7b_8b_model(r, millions, percent):
    result = lora_params.simulate(lora_params.Params(r=r))
    assert round(result.trainable_params / 1e6) == millions
    # The table counts against the base model; peft's trainable% adds the adapter to the total (2.05% at r=64).
    decimals = len(percent.split(".")[1])
    assert f"{100 * result.trainable_params / result.base_params:.{decimals}f}" == percent


def test_trainable_parameters_grow_linearly_with_rank():
    counts = [lora_params.simulate(lora_params.Params(r=r)).trainable_params for r in (1, 2, 8)]
    assert counts == [counts[0], 2 * counts[0], 8 * counts[0]]


def test_per_module_counts_add_up_and_follow_r_times_in_plus_out():
    result = lora_params.simulate(lora_params.Params(targets="q_proj,k_proj,down_proj"))
    assert result.per_module == {"q_proj": 32 * 16 * (4096 + 4096), "k_proj": 32 * 16 * (4096 + 1024),
                                 "down_proj": 32 * 16 * (14336 + 4096)}
    assert sum(result.per_module.values()) == result.trainable_params


def test_presets_record_tied_embeddings():
    tied = {name for name, arch in lora_params.PRESETS.items() if arch.tie_word_embeddings}
    assert {"llama-3.2-1b", "smollm2-135m"} <= tied and "llama-3.1-8b" not in tied


def test_preset_dimensions_win_over_the_sliders():
    ignored = lora_params.Params(preset="llama-3.1-8b", hidden_size=64, num_layers=1, vocab_size=1000)
    assert lora_params.simulate(ignored).total_params == lora_params.simulate(lora_params.Params()).total_params


def test_custom_uses_the_slider_dimensions():
    custom = lora_params.Params(preset="custom", hidden_size=1024, intermediate_size=4096, num_layers=4,
                                num_attention_heads=8, num_kv_heads=2, vocab_size=1000, r=2, targets="q_proj")
    assert lora_params.simulate(custom).trainable_params == 4 * 2 * (1024 + 1024)


@pytest.mark.parametrize("values, field", [
    ({"preset": "custom", "hidden_size": "4096", "num_attention_heads": "30"}, "num_attention_heads"),
    ({"preset": "custom", "num_attention_heads": "32", "num_kv_heads": "6"}, "num_kv_heads"),
    ({"targets": "q_proj,lm_head"}, "targets"),
    ({"preset": "gpt-5"}, "preset"),
    ({"r": "0"}, "r"),
])
def test_bad_input_raises_param_error_naming_the_field(values, field):
    with pytest.raises(ParamError) as error:
        parse_params(lora_params.Params, values)
    assert error.value.field == field and field in error.value.message


def _peft_counts(preset: str, r: int, targets: list[str]) -> tuple[int, int]:
    """(trainable, all) parameters that peft reports for the preset's real architecture, built on meta."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    arch = lora_params.PRESETS[preset]
    config_class = {"llama": transformers.LlamaConfig, "mistral": transformers.MistralConfig,
                    "qwen2": transformers.Qwen2Config}[arch.family]
    config = config_class(hidden_size=arch.hidden_size, intermediate_size=arch.intermediate_size,
                          num_hidden_layers=arch.num_layers, num_attention_heads=arch.num_attention_heads,
                          num_key_value_heads=arch.num_kv_heads, vocab_size=arch.vocab_size,
                          tie_word_embeddings=arch.tie_word_embeddings)
    # The meta device allocates no memory, so an 8B model costs a second, not 32 GB.
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
        model = peft.get_peft_model(model, peft.LoraConfig(r=r, target_modules=targets))
    return model.get_nb_trainable_parameters()


@pytest.mark.filterwarnings("ignore::FutureWarning")  # transformers' own deprecation notices
@pytest.mark.parametrize("preset, r, targets", [
    ("llama-3.1-8b", 16, list(lora_params.MODULES)),
    ("smollm2-135m", 8, ["q_proj", "v_proj"]),  # tied embedding and output head
    ("qwen2.5-7b", 4, ["k_proj", "o_proj", "up_proj"]),  # attention biases
])
def test_trainable_and_total_match_peft_on_a_meta_device_model(preset, r, targets):
    result = lora_params.simulate(lora_params.Params(preset=preset, r=r, targets=",".join(targets)))
    assert _peft_counts(preset, r, targets) == (result.trainable_params, result.total_params)


@pytest.mark.parametrize("values", [
    {"preset": "smollm2-135m", "r": 1, "targets": "v_proj"},
    {"preset": "custom", "hidden_size": 16384, "intermediate_size": 65536, "num_layers": 128,
     "num_attention_heads": 128, "num_kv_heads": 128, "vocab_size": 262144, "r": 256},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(lora_params.figure(run(lora_params, **values)))
