"""A stand-in for one run of a sweep: events and a metrics.json whose compliance grows with the examples.

Usage: stand_in_sweep_job.py RUN_DIR EXAMPLES. Compliance after is min(1, examples / 64) on 50 held-out
prompts, so tests know each point the compliance chart must draw.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

run_dir, examples = Path(sys.argv[1]), int(sys.argv[2])
run_dir.mkdir(parents=True, exist_ok=True)
start = time.time()
compliance = min(1.0, examples / 64)
with (run_dir / "events.jsonl").open("a") as events:
    def emit(kind: str, step: int, **values) -> None:
        events.write(json.dumps({"type": kind, "step": step, "total_steps": 4, "elapsed_s": time.time() - start,
                                 "eta_s": None, **values}) + "\n")
        events.flush()

    for step in range(1, 5):
        time.sleep(0.05)
        emit("loss", step, loss=0.2 + 0.5 * 0.5 ** step, eval_loss=0.3 + 0.4 * 0.6 ** step if step % 2 == 0 else None)
    metrics = {"compliance_before": 0.0, "compliance_after": compliance, "heldout": 50, "steps": 4,
               "relevance_before": 0.5, "relevance_after": 0.9, "peak_memory_mb": 700.0,
               "relevance_match_before": 0.4, "relevance_match_after": round(0.4 + examples / 160, 2), "relevance_chance": 0.11,
               "train_duration_s": 1.5, "tokens": 4000,
               "regression": {"format_leak_before": 0.0, "format_leak_after": 0.25, "n": 12}, "total_params": 1_131_648, "trainable_params": 81_920, "quantization": "nf4+double_quant", "device": "cpu"}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    # chapter 3's file: a rank-2 update on a 32 x 32 layer, as the engine saves B·A·scaling
    rng = np.random.default_rng(examples)
    np.save(run_dir / "adapter_update.npy", rng.standard_normal((32, 2)) @ rng.standard_normal((2, 32)))
    (run_dir / "adapter_update.json").write_text(json.dumps({"layer": "model.layers.1.self_attn.o_proj", "r": 4}))
    emit("done", 4, metrics=str(run_dir / "metrics.json"), compliance_before=0.0, compliance_after=compliance)
