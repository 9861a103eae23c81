"""QLoRA fine-tuning: a 4-bit base (labs.quant), LoRA adapters from peft, and a plain training loop.

`run(cfg, run_dir)` trains, evaluates the base and the fine-tuned model on held-out prompts, and writes
events.jsonl (as it goes), adapter/, config.yaml, train.jsonl and metrics.json into the run directory.
Only the answer tokens are learned: prompt tokens get label -100. `--engine trl` lives in labs.train_trl.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from labs import LabError, corpus
from labs.answer_loss import answer_loss
from labs.batching import batches, collate, encode, heldout_rows, validation_loss
from labs.dequantized import dequantized_base
from labs.events import EventWriter
from labs.lean_lora_train import lean_lora_training
from labs.quant import import_training_stack


def training_examples(cfg, note=None) -> list[dict]:
    """The task examples (none when train_examples is 0: a sweep's untrained point), plus any general ones.

    A dataset's examples whose question is one of the held-out prompts are left out (scoring the model on prompts
    it was trained on would flatter it); `note(message)` hears how many, when any were."""
    if cfg.train_examples == 0:
        return []
    if cfg.dataset is None:  # generated from the training side of the same split: nothing to leave out
        examples = corpus.legal_format_examples(cfg.train_examples, cfg.seed, heldout=50)
        return corpus.mix_in_general(examples, cfg.general_examples, cfg.seed)
    from labs.data import load_usable_examples

    examples, left_out = corpus.without_heldout_prompts(load_usable_examples(Path(cfg.dataset)), cfg.seed)
    if not examples:
        raise LabError(f"every example in {cfg.dataset} asks one of the held-out prompts: nothing is left to "
                       "train on without scoring the model on what it has seen")
    if left_out and note:
        note(f"left out {left_out} training example(s) whose question is a held-out prompt, so the model is "
             "scored only on prompts it has not seen")
    return examples[: cfg.train_examples]


def lr_at(step: int, cfg) -> float:
    """Linear warm-up to cfg.lr, then cosine (or linear) decay to zero at cfg.steps; step counts from 1."""
    if step <= cfg.warmup_steps:
        return cfg.lr * step / max(1, cfg.warmup_steps)
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.schedule == "linear":
        return cfg.lr * (1.0 - progress)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def mixed_precision(device: str, compute_dtype: str):
    """bf16/fp16 autocast on a GPU, as TRL's `bf16=True` does: LoRA's fp32 adapters then run and save their
    activations in the compute dtype (less memory, fewer casts). On CPU the labs compute in fp32: no autocast."""
    import contextlib

    import torch

    from labs.quant import torch_dtype

    if device != "cuda" or compute_dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch_dtype(compute_dtype))


def load_tokenizer(base: str, name: str):
    """The chat tokenizer of a resolved base folder or hub id (`name` as the learner wrote it, for messages)."""
    from transformers import AutoTokenizer

    from labs.hub import hub_error

    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as exc:
        raise hub_error(base, exc) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise LabError(f"base {name!r} has no chat template; the labs train chat models")
    return tokenizer


def load_for_training(cfg, adapter_dir: Path | None = None, on_build_step=None):
    """The base (4-bit unless quantization: none) with fresh LoRA adapters, or the saved ones in `adapter_dir`."""
    from labs.quant import import_bitsandbytes, load_model, pick_device

    import_bitsandbytes()  # before peft, which imports it
    from peft import LoraConfig, PeftModel, get_peft_model

    from labs.base import resolve_base

    device = pick_device(cfg.device)
    base = resolve_base(cfg.base, on_step=on_build_step, show_progress=on_build_step is None)
    tokenizer = load_tokenizer(base, cfg.base)
    model = load_model(base, cfg.quantization, cfg.double_quant, cfg.resolved_dtype(device), device)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    if adapter_dir is not None:
        model = PeftModel.from_pretrained(model, str(adapter_dir))
    else:
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        missing = [m for m in cfg.lora.target_modules if m not in present]
        if missing:
            raise LabError(f"lora.target_modules names layers this base does not have: {', '.join(missing)}")
        lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=list(cfg.lora.target_modules), bias="none", task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)  # B starts at zero: the adapted model equals the base at step 0
    return model, tokenizer, device


def prepare_run_dir(cfg, run_dir: Path, examples: list[dict]) -> None:
    """What another machine needs to reproduce the run: the resolved config and the exact training data."""
    import yaml

    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    with open(run_dir / "train.jsonl", "w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex, ensure_ascii=False) + "\n")


def run(cfg, run_dir: Path, engine: str = "loop", start: float | None = None, echo=None) -> dict:
    """Train, evaluate, save. Events stream to run_dir/events.jsonl; returns the metrics (also metrics.json).

    Whatever goes wrong after the stream opens (a bad dataset, a missing base, a bug) ends it with an `error`
    event before the exception propagates, so a watcher is never left waiting.
    """
    run_dir = Path(run_dir)
    start = time.time() if start is None else start
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("events.jsonl", "metrics.json"):
        (run_dir / stale).unlink(missing_ok=True)
    events = EventWriter(run_dir / "events.jsonl", total_steps=cfg.steps, start=start, echo=echo)
    try:
        events.emit("progress", phase="load", message=f"loading base {cfg.base!r} ({cfg.quantization})")
        examples = training_examples(cfg, note=lambda message: events.emit("progress", phase="load", message=message))
        prepare_run_dir(cfg, run_dir, examples)
        import_training_stack()
        if cfg.train_examples == 0:
            from labs.untrained import evaluate_untrained as train_fn
        elif engine == "trl":
            from labs.train_trl import train_trl as train_fn
        else:
            train_fn = train_loop
        metrics = train_fn(cfg, run_dir, examples, events)
        metrics["time_to_first_loss_s"] = events.first_elapsed.get("loss")
        metrics["duration_s"] = round(time.time() - start, 2)
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        events.emit("done", step=cfg.steps, eta_s=0, metrics=str(run_dir / "metrics.json"),
                    compliance_before=metrics["compliance_before"], compliance_after=metrics["compliance_after"])
        return metrics
    except LabError as exc:
        events.emit("error", message=str(exc))
        raise
    except KeyboardInterrupt:
        events.emit("error", message="the run was cancelled")
        raise
    except Exception as exc:
        events.emit("error", message=f"the run failed: {type(exc).__name__}: {exc}")
        raise
    finally:
        events.close()


def _build_progress(events: EventWriter):
    """Progress events while a missing named base is built on first use (35-50 s for tiny)."""
    t0 = time.time()

    def on_step(step: int, total: int, loss: float) -> None:
        if step % 10 == 0 or step == total:
            elapsed = time.time() - t0
            events.emit("progress", phase="build_base", eta_s=elapsed / step * (total - step),
                        message=f"building the base model: pretraining step {step}/{total}, loss {loss:.3f}")

    return on_step


def train_loop(cfg, run_dir: Path, examples: list[dict], events: EventWriter) -> dict:
    import torch

    torch.manual_seed(cfg.seed)
    model, tokenizer, device = load_for_training(cfg, on_build_step=_build_progress(events))
    rows = [encode(tokenizer, ex["messages"], cfg.max_seq_len) for ex in examples]
    held = heldout_rows(cfg, tokenizer)
    params = [p for p in model.parameters() if p.requires_grad]  # only the LoRA A and B matrices
    # One fused kernel updates all the LoRA matrices (28 on tiny) instead of a Python loop over them.
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    pad = tokenizer.pad_token_id
    stream = batches(rows, cfg.batch_size, cfg.seed)
    events.emit("progress", phase="train", message=f"{len(rows)} examples, {cfg.steps} steps on {device}")

    model.train()
    # The frozen 4-bit base dequantised once for the whole loop on CPU (labs.dequantized: bit-identical losses and
    # gradients), instead of twice per layer per step (forward, and backward for the activations' gradient)
    with dequantized_base(model, device), lean_lora_training(model, cfg.lora.dropout):
        stats = train_steps(cfg, model, opt, params, stream, held, pad, device, events)
    return finish(cfg, run_dir, "loop", model, tokenizer, device, held, events, stats)


def train_steps(cfg, model, opt, params, stream, held, pad, device, events: EventWriter) -> dict:
    """The optimisation steps, with a loss event each and a validation loss every eval_every; returns their stats."""
    import torch

    t0, cpu0, tokens, first_loss, eval_loss = time.time(), time.process_time(), 0, None, None
    val_s = val_cpu = 0.0  # validation passes, kept out of the training throughput (TRL's excludes them too)
    for step in range(1, cfg.steps + 1):
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        step_loss = 0.0
        for _ in range(cfg.grad_accum):
            rows = next(stream)
            batch = collate(rows, pad, device)  # (B, T) ids, labels, mask
            with mixed_precision(device, cfg.resolved_dtype(device)):
                loss = answer_loss(model, batch) / cfg.grad_accum
            loss.backward()
            step_loss += loss.item()
            tokens += sum(len(row["input_ids"]) for row in rows)  # counted on the host: no device sync for it
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        first_loss = step_loss if first_loss is None else first_loss
        values = {"loss": step_loss, "lr": lr}  # unrounded: the chapters overlay the run exactly as measured
        if step % cfg.eval_every == 0 or step == cfg.steps:
            v0, vc0 = time.time(), time.process_time()
            eval_loss = validation_loss(model, held, pad, device, cfg.eval.batch_size)
            values["eval_loss"] = eval_loss
            val_s, val_cpu = val_s + time.time() - v0, val_cpu + time.process_time() - vc0
        elapsed = time.time() - t0
        events.emit("loss", step, eta_s=elapsed / step * (cfg.steps - step), **values,
                    tokens_per_s=round(tokens / elapsed, 1))
    # CPU seconds as well as wall seconds: on a shared machine the CPU time is the fairer measure of work
    return {"first_loss": first_loss, "last_loss": step_loss, "eval_loss": eval_loss,
            "train_s": time.time() - t0 - val_s, "cpu_s": time.process_time() - cpu0 - val_cpu, "tokens": tokens}


def finish(cfg, run_dir: Path, engine: str, model, tokenizer, device: str, held: list[dict], events: EventWriter,
           stats: dict) -> dict:
    """After training (either engine): evaluate base and fine-tuned model, emit samples, save the adapter."""
    from labs.delta_w import save_adapter_update
    from labs.evaluate import evaluate_model, inference_view, side_by_side
    from labs.metrics import training_metrics

    pad = tokenizer.pad_token_id
    emit = lambda *a, **k: events.emit(*a, step=cfg.steps, **k)  # noqa: E731
    # "Before" is the same model with the adapter switched off: exactly the base, since LoRA's B started at
    # zero. Evaluating it here rather than first lets the loss curve start within seconds of launch.
    emit("progress", phase="eval", message="evaluating the base and the fine-tuned model on held-out prompts")
    with inference_view(model, device, adapter=False):
        eval_loss_before = validation_loss(model, held, pad, device, cfg.eval.batch_size)
        before = evaluate_model(model, tokenizer, cfg, emit, "before")
    with inference_view(model, device, adapter=True):
        after = evaluate_model(model, tokenizer, cfg, emit, "after")
    for row in side_by_side(before, after, cfg.eval.side_by_side, cfg.task):
        emit("sample", **row)
    model.save_pretrained(str(run_dir / "adapter"))  # adapter_model.safetensors + adapter_config.json
    tokenizer.save_pretrained(str(run_dir / "adapter"))
    save_adapter_update(model, run_dir)  # chapter 3 sets it beside the real ΔW of the same layer
    return training_metrics(cfg, engine, model, device, before, after, stats, eval_loss_before)
