"""QLoRA training: prompt tokens are masked, the schedule is right, and a short real run on the micro base raises
compliance, streams well-formed ordered events and writes complete metrics.

The run itself is the session fixture `short_run` (conftest): 80 steps on the 4-bit micro base.
"""

import json
import math

import pytest

from labs import LabError
from labs.config import apply_overrides, load_recipe
from labs.events import TYPES, read_events
from tests.labs.conftest import training_batch_with_live_lora

# metrics.json keys promised by CONTRACTS.md
CONTRACT_KEYS = {"compliance_before", "compliance_after", "checks", "train_loss", "eval_loss", "steps", "duration_s",
                 "trainable_params", "total_params", "quantization", "quantized_layers", "peak_memory_mb", "device",
                 "versions"}


def test_the_schedule_warms_up_linearly_then_decays_to_zero():
    from labs.train import lr_at

    cfg = apply_overrides(load_recipe("legal-format"), ["steps=100", "warmup_steps=10", "lr=1.0e-3"])
    assert lr_at(5, cfg) == pytest.approx(5e-4)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(5e-4)  # cosine half way
    assert lr_at(100, cfg) == pytest.approx(0.0, abs=1e-12)
    linear = apply_overrides(cfg, ["schedule=linear"])
    assert lr_at(55, linear) == pytest.approx(5e-4) and lr_at(32.5, linear) == pytest.approx(7.5e-4)


def test_the_answer_only_loss_equals_the_models_own_loss_and_gradients(short_run_config):
    import torch

    from labs.train import answer_loss, load_for_training

    torch.manual_seed(0)
    model, tokenizer, device = load_for_training(short_run_config)
    batch = training_batch_with_live_lora(model, tokenizer, device)
    model.train()
    for module in model.modules():  # dropout would make the two forward passes differ
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0

    def loss_and_grads(loss_fn):
        model.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    ours, our_grads = loss_and_grads(lambda: answer_loss(model, batch))
    theirs, their_grads = loss_and_grads(lambda: model(**batch).loss)
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert our_grads.keys() == their_grads.keys() and len(our_grads) > 0
    for name, grad in our_grads.items():
        assert torch.allclose(grad, their_grads[name], rtol=1e-4, atol=1e-7), name


def test_the_answer_loss_gives_the_plain_computations_loss_bit_for_bit_and_its_gradients(short_run_config):
    """Skipping the pad mask, running the last MLP on answer positions only and gathering once change no bit of the
    loss, nor of any LoRA gradient outside the last MLP; the last MLP's sum over fewer positions (the others add
    exact zeros) may round differently, within float32's 1e-6. The reference is the whole model run with its
    mask, then the answer positions."""
    import torch
    import torch.nn.functional as F

    from labs.lean_lora_train import lean_lora_training
    from labs.train import answer_loss, load_for_training

    torch.manual_seed(0)
    model, tokenizer, device = load_for_training(short_run_config)
    batch = training_batch_with_live_lora(model, tokenizer, device)
    base = model.get_base_model()
    model.train()

    def plain():
        hidden = base.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        targets = batch["labels"][:, 1:]
        learned = targets != -100
        return F.cross_entropy(base.get_output_embeddings()(hidden[:, :-1][learned]).float(), targets[learned])

    def loss_and_grads(loss_fn):
        model.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    with lean_lora_training(model, 0.0):
        ours, our_grads = loss_and_grads(lambda: answer_loss(model, batch))
        ref, ref_grads = loss_and_grads(plain)
    assert torch.equal(ours, ref)
    assert our_grads.keys() == ref_grads.keys() and len(our_grads) == 28
    last_mlp = f"layers.{len(base.model.layers) - 1}.mlp."
    for name, grad in our_grads.items():
        if last_mlp not in name:
            assert torch.equal(grad, ref_grads[name]), name
        else:
            assert (grad - ref_grads[name]).abs().max() <= 1e-6 * ref_grads[name].abs().max(), name
    assert all(g.abs().sum() > 0 for g in ref_grads.values())
    assert "forward" not in vars(base.model.layers[-1].mlp)  # the whole MLP is back


def test_a_right_padded_batch_needs_no_pad_mask_and_a_left_padded_one_keeps_it(short_run_config):
    """answer_loss drops the mask of a right-padded batch: the learned positions' hidden states are the very same
    numbers without it. A left-padded batch (real tokens after pads) keeps its mask and still gives the model's loss."""
    import torch

    from labs.train import answer_loss, load_for_training

    torch.manual_seed(0)
    model, tokenizer, device = load_for_training(short_run_config)
    batch = training_batch_with_live_lora(model, tokenizer, device)
    assert (batch["attention_mask"] == 0).any()  # there is padding to drop
    body = model.get_base_model().model
    with torch.no_grad():
        masked = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        unmasked = body(input_ids=batch["input_ids"]).last_hidden_state
    real = batch["attention_mask"].bool()
    assert torch.equal(unmasked[real], masked[real])

    flip = lambda t: torch.stack([torch.roll(row, int((row_mask == 0).sum())) for row, row_mask  # noqa: E731
                                  in zip(t, batch["attention_mask"])])
    left = {k: flip(v) for k, v in batch.items()}  # the pads moved to the front of each row
    assert (left["attention_mask"][:, 1:] > left["attention_mask"][:, :-1]).any()
    with torch.no_grad():
        ours, theirs = answer_loss(model, left).item(), model(**left).loss.item()
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_a_gpu_computes_in_bf16_under_autocast_and_a_cpu_in_plain_fp32():
    import warnings

    import torch

    from labs.train import mixed_precision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available" on this machine: only the settings are checked
        gpu = mixed_precision("cuda", "bfloat16")
    assert isinstance(gpu, torch.autocast) and gpu.device == "cuda" and gpu.fast_dtype == torch.bfloat16
    for device, dtype in (("cpu", "float32"), ("cpu", "bfloat16"), ("cuda", "float32")):
        assert not isinstance(mixed_precision(device, dtype), torch.autocast), (device, dtype)


def test_a_short_run_raises_compliance_on_heldout_prompts(short_run):
    _, metrics = short_run
    assert metrics["compliance_before"] <= 0.2
    assert metrics["compliance_after"] >= metrics["compliance_before"] + 0.4
    assert metrics["checks"]["after"]["disclaimer_footer"] >= 0.9
    assert metrics["train_loss"] < metrics["train_loss_first"]
    assert metrics["eval_loss"] < metrics["eval_loss_before"]


def test_metrics_hold_every_contract_key_with_sensible_values(short_run):
    run_dir, metrics = short_run
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert CONTRACT_KEYS <= set(metrics)
    assert set(metrics["checks"]["before"]) == {"numbered_items", "disclaimer_footer", "british_spelling",
                                                "formal_register"}
    assert 0 <= metrics["compliance_before"] <= 1 and 0 <= metrics["compliance_after"] <= 1
    assert metrics["quantization"] == "nf4+double_quant" and metrics["quantized_layers"] == 14
    assert 0 < metrics["trainable_params"] < metrics["total_params"]
    assert metrics["steps"] == 80 and metrics["device"] == "cpu" and metrics["peak_memory_mb"] > 0
    assert set(metrics["versions"]) >= {"torch", "transformers", "peft", "bitsandbytes"}
    assert metrics["engine"] == "loop" and metrics["tokens_per_s"] > 0 and metrics["train_cpu_s"] > 0
    assert 0 < metrics["time_to_first_loss_s"] < metrics["duration_s"]
    assert 0 <= metrics["relevance_before"] <= 1 and 0 <= metrics["relevance_after"] <= 1


def test_events_are_well_formed_and_in_order(short_run):
    run_dir, metrics = short_run
    events = read_events(run_dir / "events.jsonl")
    for e in events:
        assert e["type"] in TYPES
        assert {"step", "total_steps", "elapsed_s", "eta_s"} <= set(e)
        assert e["total_steps"] == 80
    assert [e["elapsed_s"] for e in events] == sorted(e["elapsed_s"] for e in events)
    types = [e["type"] for e in events]
    assert types[0] == "progress" and types[-1] == "done" and "error" not in types
    losses = [e for e in events if e["type"] == "loss"]
    assert [e["step"] for e in losses] == list(range(1, 81))
    assert all(math.isfinite(e["loss"]) and e["eta_s"] >= 0 for e in losses)
    assert "eval_loss" in losses[19] and "eval_loss" in losses[-1] and "eval_loss" not in losses[0]
    evals = [e for e in events if e["type"] == "eval"]
    assert [e["which"] for e in evals] == ["before", "after"]
    assert evals[1]["compliance"] == metrics["compliance_after"]
    assert types.index("eval") > max(i for i, t in enumerate(types) if t == "loss")
    samples = [e for e in events if e["type"] == "sample"]
    assert len(samples) == 4 and all({"prompt", "base", "finetuned"} <= set(s) for s in samples)
    assert events[-1]["metrics"] == str(run_dir / "metrics.json")


def test_the_run_dir_holds_what_eval_and_export_need(short_run):
    run_dir, _ = short_run
    for name in ("config.yaml", "train.jsonl", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"):
        assert (run_dir / name).exists(), name
    assert len((run_dir / "train.jsonl").read_text().splitlines()) == 200


def test_a_failing_run_ends_its_event_stream_with_an_error_for_a_person(micro_base, tmp_path):
    from labs.train import run

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    cfg = apply_overrides(load_recipe("legal-format"), ["base=micro", f"dataset={bad}"])
    with pytest.raises(LabError, match="not usable for training"):
        run(cfg, tmp_path / "run")
    events = read_events(tmp_path / "run" / "events.jsonl")
    assert [e["type"] for e in events] == ["progress", "error"]
    assert "line 1: no assistant message" in events[-1]["message"]
    assert not (tmp_path / "run" / "metrics.json").exists()

    cfg = apply_overrides(load_recipe("legal-format"), ["base=micro", "lora.target_modules=[c_attn]"])
    with pytest.raises(LabError, match="lora.target_modules names layers this base does not have: c_attn"):
        run(cfg, tmp_path / "run2")
    events = read_events(tmp_path / "run2" / "events.jsonl")
    assert events[-1]["type"] == "error" and "c_attn" in events[-1]["message"]


def test_a_missing_named_base_is_built_on_first_use_with_progress_events(monkeypatch, tmp_path):
    import dataclasses

    import labs.base
    from labs.train import run

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "fresh"))
    nano = dataclasses.replace(labs.base.SPECS["micro"], hidden_size=32, intermediate_size=64, num_layers=1,
                               num_heads=1, steps=20, n_chats=60, n_articles=20, n_general=10, vocab_size=512)
    monkeypatch.setitem(labs.base.SPECS, "micro", nano)
    cfg = apply_overrides(load_recipe("legal-format"), ["base=micro", "steps=2", "warmup_steps=1", "eval.heldout=2",
                                                        "eval.regression=1", "eval.max_new_tokens=8"])
    run(cfg, tmp_path / "run")
    events = read_events(tmp_path / "run" / "events.jsonl")
    building = [e for e in events if e.get("phase") == "build_base"]
    assert [e["message"].split("step ")[1].split(",")[0] for e in building] == ["10/20", "20/20"]
    assert building[0]["eta_s"] > 0 and building[-1]["eta_s"] == 0
    assert (tmp_path / "fresh" / "models" / "micro" / "config.json").exists()
    assert events[-1]["type"] == "done"


def test_a_dataset_example_asking_a_held_out_prompt_is_left_out_and_said(tmp_path):
    """The SmolLM2 file was built from seed 0's split; with seed 2 some of its questions are held out, and
    training on them would score the model on prompts it has seen."""
    from labs import corpus
    from labs.specific_data import SAMPLE
    from labs.train import training_examples

    held = {q for _, q in corpus.split_questions(2, 50)[1]}
    in_file = sum(json.loads(line)["messages"][1]["content"] in held for line in SAMPLE.read_text().splitlines())
    assert in_file > 0  # the case this guards against is in our own file
    notes = []
    cfg = apply_overrides(load_recipe("legal-format"), [f"dataset={SAMPLE}", "seed=2", "train_examples=100000"])
    examples = training_examples(cfg, note=notes.append)
    assert not any(m["content"] in held for ex in examples for m in ex["messages"] if m["role"] == "user")
    assert len(examples) == len(SAMPLE.read_text().splitlines()) - in_file
    assert notes and f"left out {in_file} " in notes[0]
    seed0 = apply_overrides(cfg, ["seed=0"])
    assert len(training_examples(seed0, note=notes.append)) == len(examples) + in_file and len(notes) == 1


def test_a_dataset_of_only_held_out_prompts_is_refused_by_name(tmp_path):
    from labs import corpus
    from labs.train import training_examples

    path = tmp_path / "held.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "system", "content": corpus.LEGAL_SYSTEM},
                                                      {"role": "user", "content": q},
                                                      {"role": "assistant", "content": "1. Call us."}]}) + "\n"
                            for _, q in corpus.split_questions(0, 50)[1][:3]))
    cfg = apply_overrides(load_recipe("legal-format"), [f"dataset={path}"])
    with pytest.raises(LabError, match="held-out prompts"):
        training_examples(cfg)
