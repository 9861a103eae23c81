"""Where one training step of the web default run goes on CPU (issue 11): 4-bit dequantisation, matmuls, the rest.

Loads the tiny base as a run does (4-bit NF4, LoRA r=8 on all seven projections, the lean LoRA forward), takes eight
real batches of 8 training examples and times steps (forward, backward, clip, fused AdamW) with bitsandbytes'
4-bit forward and with the base dequantised once (labs.dequantized), alternating, in CPU seconds
(`time.process_time`, steadier than wall time on a shared machine) at 1 and 2 torch threads. Beside them: the cost
of one Linear's NF4 dequantisation, the matmul floor (every frozen Linear's forward and input-gradient matmul at the
step's real shapes, timed alone), and torch.profiler's self-CPU shares by operator for the dequantised step.

    .venv/bin/python benchmarks/labs/step_profile.py [--tiny data/models/tiny] [--reps 3]

Writes step_profile.json and step_profile.md beside this file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run_bench import load, machine  # noqa: E402


def cpu_ms(fn, n: int) -> float:
    """CPU milliseconds per call of `fn`, over n calls after one warm-up call."""
    fn()
    c = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - c) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", type=Path, default=ROOT / "data" / "models" / "tiny")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    os.environ["COURSE_DATA_DIR"] = str(args.tiny.parents[1])
    from labs.cli import configure_process

    configure_process()
    from labs.quant import import_bitsandbytes, import_training_stack

    import_training_stack()
    import torch
    import torch.nn.functional as F

    from labs.batching import batches, collate, encode
    from labs.config import load_recipe
    from labs.dequantized import dequantized_base
    from labs.lean_lora_train import lean_lora_training
    from labs.train import answer_loss, load_for_training, training_examples

    bnb = import_bitsandbytes()
    cfg = load_recipe("legal-format")
    torch.manual_seed(cfg.seed)
    model, tokenizer, device = load_for_training(cfg)
    rows = [encode(tokenizer, ex["messages"], cfg.max_seq_len) for ex in training_examples(cfg)]
    stream = batches(rows, cfg.batch_size, cfg.seed)
    steps = [collate(next(stream), tokenizer.pad_token_id, device) for _ in range(8)]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-6, fused=True)  # a tiny rate: the weights barely move between variants
    model.train()

    def run_steps() -> None:
        for batch in steps:
            answer_loss(model, batch).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
            opt.step()
            opt.zero_grad(set_to_none=True)

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    results: dict = {"machine": machine(), "load_before": load(), "step_cpu_ms": {}}
    with lean_lora_training(model, cfg.lora.dropout):
        for _ in range(args.reps):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                for variant in ("bnb_4bit", "dequantised_once"):
                    block = dequantized_base(model, device) if variant != "bnb_4bit" else contextlib.nullcontext()
                    with block:
                        ms = cpu_ms(run_steps, 1) / len(steps)
                    results["step_cpu_ms"].setdefault(f"{variant}_{threads}t", []).append(round(ms, 1))
        torch.set_num_threads(1)
        dq = [cpu_ms(lambda m=m: bnb.functional.dequantize_4bit(m.weight.data, m.weight.quant_state), 20)
              for m in layers]
        results["dequantize_one_linear_cpu_ms"] = round(statistics.mean(dq), 3)
        results["frozen_linears"] = len(layers)
        results["dequantize_per_step_cpu_ms"] = round(2 * sum(dq), 1)  # forward, and backward's input gradient
        tokens = statistics.mean(b["input_ids"].numel() for b in steps)  # padded positions: what the matmuls see
        floor = 0.0
        for m in layers:
            x = torch.randn(int(tokens), m.in_features)
            w = torch.randn(m.out_features, m.in_features)
            g = torch.randn(int(tokens), m.out_features)
            floor += cpu_ms(lambda: F.linear(x, w), 5) + cpu_ms(lambda: g @ w, 5)
        results["frozen_matmul_floor_1t_cpu_ms"] = round(floor, 1)
        results["padded_positions_per_step"] = int(tokens)
        results["answer_positions_per_step"] = int(statistics.mean(int((b["labels"] != -100).sum()) for b in steps))
        from torch.profiler import ProfilerActivity, profile

        with dequantized_base(model, device), profile(activities=[ProfilerActivity.CPU]) as prof:
            run_steps()
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    top = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
    results["profile_self_cpu_share"] = {e.key: round(e.self_cpu_time_total / total, 3) for e in top}
    results["load_after"] = load()
    (args.out / "step_profile.json").write_text(json.dumps(results, indent=2))
    (args.out / "step_profile.md").write_text(report(results))
    print(report(results))


def report(r: dict) -> str:
    med = {k: statistics.median(v) for k, v in r["step_cpu_ms"].items()}
    lines = [
        "# One training step of the web default run on CPU (issue 11)", "",
        f"Measured {r['machine']['date']} with `benchmarks/labs/step_profile.py`; raw numbers in `step_profile.json`. "
        f"`nproc` {r['machine']['nproc']}; load average before {r['load_before']}, after {r['load_after']}. "
        "CPU milliseconds per step (forward, backward, clip, fused AdamW; batch 8 of the legal-format examples), "
        "variants alternating in one process.", "",
        "| step, CPU ms (median) | 1 thread | 2 threads |", "|---|---|---|",
    ]
    for variant in ("bnb_4bit", "dequantised_once"):
        lines.append(f"| {variant} ({', '.join(map(str, r['step_cpu_ms'][variant + '_1t']))} / "
                     f"{', '.join(map(str, r['step_cpu_ms'][variant + '_2t']))}) | {med[variant + '_1t']} | "
                     f"{med[variant + '_2t']} |")
    lines += [
        "",
        f"- bnb 4-bit / dequantised once, 1 thread: {round(med['bnb_4bit_1t'] / med['dequantised_once_1t'], 2)}; "
        f"2 threads: {round(med['bnb_4bit_2t'] / med['dequantised_once_2t'], 2)}",
        f"- NF4 dequantisation of one Linear: {r['dequantize_one_linear_cpu_ms']} ms; the {r['frozen_linears']} "
        f"frozen Linears twice a step (forward, input gradient): {r['dequantize_per_step_cpu_ms']} ms, which the dequantised base does once a run",
        f"- matmul floor, 1 thread: the frozen Linears' forward and input-gradient matmuls alone at "
        f"{r['padded_positions_per_step']} padded positions ({r['answer_positions_per_step']} of them answer tokens): "
        f"{r['frozen_matmul_floor_1t_cpu_ms']} ms",
        "- self-CPU shares of the dequantised step (torch.profiler): "
        + ", ".join(f"{k} {v:.1%}" for k, v in r["profile_self_cpu_share"].items()),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
