"""metrics.json and eval.json, built in one place with one set of keys (CONTRACTS.md lists the promised ones).

Both engines' runs and `course-lab eval` describe a before/after evaluation the same way (`compliance_summary`);
a training run adds its loss, speed and size figures. Not the place for measuring: labs.evaluate scores outputs.
"""

from __future__ import annotations

import platform


def compliance_summary(before: dict, after: dict) -> dict:
    """The keys every report of a before/after evaluation carries, from two `evaluate_model` results."""
    return {
        "compliance_before": before["greedy"]["compliance"], "compliance_after": after["greedy"]["compliance"],
        "compliance_before_sampled": before["sampled"]["compliance"],
        "compliance_after_sampled": after["sampled"]["compliance"],
        "checks": {"before": before["greedy"]["checks"], "after": after["greedy"]["checks"],
                   "before_sampled": before["sampled"]["checks"], "after_sampled": after["sampled"]["checks"]},
        "regression": {"format_leak_before": before["format_leak"], "format_leak_after": after["format_leak"],
                       "n": len(before["outputs"]["regression"])},
        "relevance_before": before["relevance"], "relevance_after": after["relevance"],
        "relevance_match_before": before["relevance_match"]["score"],
        "relevance_match_after": after["relevance_match"]["score"],
        "relevance_chance": before["relevance_match"]["chance"],
        "heldout": before["greedy"]["n"],
    }


def training_metrics(cfg, engine: str, model, device: str, before: dict, after: dict, stats: dict,
                     eval_loss_before: float) -> dict:
    """metrics.json of a finished run (its duration_s is added by the caller, who knows when the run started)."""
    from labs.quant import describe_quantization, quantized_layers

    trainable, total = model.get_nb_trainable_parameters()
    return {
        "recipe": cfg.name, "engine": engine, "base": cfg.base, "task": cfg.task,
        **compliance_summary(before, after),
        "train_loss": round(stats["last_loss"], 4), "train_loss_first": round(stats["first_loss"], 4),
        "eval_loss": round(stats["eval_loss"], 4), "eval_loss_before": round(eval_loss_before, 4),
        "steps": cfg.steps, "train_duration_s": round(stats["train_s"], 2), "train_cpu_s": round(stats["cpu_s"], 2),
        "tokens_per_s": round(stats["tokens"] / stats["train_s"], 1) if stats["train_s"] else 0.0,
        "tokens": stats["tokens"],
        "trainable_params": trainable, "total_params": total,
        "quantization": describe_quantization(cfg.quantization, cfg.double_quant),
        "quantized_layers": quantized_layers(model),
        "peak_memory_mb": round(peak_memory_mb(device), 1), "device": device, "versions": versions(),
    }


def evaluation_report(before: dict, after: dict, rows: list[dict], duration_s: float, device: str) -> dict:
    """eval.json of `course-lab eval`: the same compliance keys as metrics.json, with the side-by-side rows."""
    return {**compliance_summary(before, after), "side_by_side": rows, "duration_s": round(duration_s, 2),
            "device": device}


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "peft", "bitsandbytes", "trl", "accelerate"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def peak_memory_mb(device: str) -> float:
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
