"""A sweep's zero-example point: the base model evaluated exactly as a trained run is, with no training step.

Fresh LoRA adapters start with B = 0, so the adapted model is the base: "before" and "after" are the same model
and are measured once. The (zero) adapter is still saved, so exports and `eval --run-dir` treat the run like any.
"""

from __future__ import annotations

import time
from pathlib import Path

from labs.events import EventWriter


def evaluate_untrained(cfg, run_dir: Path, examples: list[dict], events: EventWriter) -> dict:
    from labs.batching import heldout_rows, validation_loss
    from labs.evaluate import evaluate_model, side_by_side
    from labs.metrics import training_metrics
    from labs.train import load_for_training

    model, tokenizer, device = load_for_training(cfg)
    held = heldout_rows(cfg, tokenizer)
    emit = lambda *a, **k: events.emit(*a, step=0, **k)  # noqa: E731
    emit("progress", phase="eval", message="0 examples: evaluating the base model without training it")
    t0 = time.time()
    val = validation_loss(model, held, tokenizer.pad_token_id, device, cfg.eval.batch_size)
    base = evaluate_model(model, tokenizer, cfg, emit, "before")
    emit("eval", which="after", compliance=base["greedy"]["compliance"], checks=base["greedy"]["checks"],
         compliance_sampled=base["sampled"]["compliance"], checks_sampled=base["sampled"]["checks"],
         format_leak=base["format_leak"], relevance=base["relevance"],
         relevance_match=base["relevance_match"]["score"], relevance_chance=base["relevance_match"]["chance"],
         n=base["greedy"]["n"])
    for row in side_by_side(base, base, cfg.eval.side_by_side, cfg.task):
        emit("sample", **row)
    model.save_pretrained(str(run_dir / "adapter"))
    tokenizer.save_pretrained(str(run_dir / "adapter"))
    stats = {"first_loss": val, "last_loss": val, "eval_loss": val, "train_s": 0.0, "cpu_s": 0.0, "tokens": 0}
    metrics = training_metrics(cfg, "none", model, device, base, base, stats, val)
    metrics["steps"] = 0
    metrics["eval_duration_s"] = round(time.time() - t0, 2)
    return metrics
