"""Where a CPU training step on SmolLM2-135M-Instruct spends its time: the 4-bit QLoRA base against LoRA on the
unquantised fp32 base, one process each, same batch (the first 8 legal-format examples), same LoRA (r=16, all linear
layers).

Each mode: one untimed step (first-call costs), then `--steps` timed steps and one more under torch.profiler (the
median of all timed), whose operators are summed by self CPU time, so the 4-bit path's dequantisation shows as
what it is.
Writes smollm2_cpu_step.json and .md beside this file, with the load average.

    COURSE_DATA_DIR=... .venv/bin/python benchmarks/labs/smollm2_cpu_step.py   # converts SmolLM2 first if needed
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

STEP = r"""
import json, statistics, sys, time
import torch
from labs.cli import configure_process
configure_process()
from labs.batching import collate, encode
from labs.config import apply_overrides, load_recipe
from labs.train import answer_loss, load_for_training, training_examples

quantization, steps, batch_size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
cfg = apply_overrides(load_recipe("legal-format-smollm2"), ["device=cpu", f"quantization={quantization}",
                                                            "lora.dropout=0.0"])
torch.manual_seed(0)
t0 = time.perf_counter()
model, tok, device = load_for_training(cfg)
load_s = time.perf_counter() - t0
rows = [encode(tok, ex["messages"], cfg.max_seq_len) for ex in training_examples(cfg)[:batch_size]]
batch = collate(rows, tok.pad_token_id, device)
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4)
model.train()

def step():
    t = time.perf_counter()
    loss = answer_loss(model, batch)
    f = time.perf_counter()
    loss.backward()
    b = time.perf_counter()
    opt.step(); opt.zero_grad(set_to_none=True)
    return {"forward": f - t, "backward": b - f, "optimizer": time.perf_counter() - b, "loss": loss.item()}

step()
timed = [step() for _ in range(steps)]
from torch.profiler import ProfilerActivity, profile
with profile(activities=[ProfilerActivity.CPU]) as prof:
    timed.append(step())
ops = sorted(((e.key, e.self_cpu_time_total / 1e6) for e in prof.key_averages()), key=lambda kv: -kv[1])
total = sum(s for _, s in ops)
print(json.dumps({
    "quantization": quantization, "load_s": round(load_s, 2), "tokens": int(batch["attention_mask"].sum()),
    "step_s": round(statistics.median(sum(t[k] for k in ("forward", "backward", "optimizer")) for t in timed), 3),
    "forward_s": round(statistics.median(t["forward"] for t in timed), 3),
    "backward_s": round(statistics.median(t["backward"] for t in timed), 3),
    "optimizer_s": round(statistics.median(t["optimizer"] for t in timed), 3),
    "losses": [round(t["loss"], 4) for t in timed],
    "profile_top_ops": [(k, round(s, 3), round(s / total, 3)) for k, s in ops[:12]],
    "threads": torch.get_num_threads(),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps besides the profiled one")
    parser.add_argument("--batch", type=int, default=8, help="examples in the batch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 avoids OpenMP barrier waits when "
                                                                 "the cores are oversubscribed)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from run_bench import load, machine

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "labs", "base", "import-smollm2"], env=env, check=True, cwd=ROOT)
    results = {"machine": machine(), "modes": [], "batch": args.batch, "threads": args.threads}
    for quantization in ("none", "nf4"):
        before = load()
        out = subprocess.run([sys.executable, "-c", STEP, quantization, str(args.steps), str(args.batch),
                              str(args.threads)], env=env, cwd=ROOT,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        mode = json.loads(out.stdout.strip().splitlines()[-1])
        mode["load_before"], mode["load_after"] = before, load()
        results["modes"].append(mode)
        print(quantization, mode["step_s"], "s a step", file=sys.stderr)
    fp32, nf4 = results["modes"]
    results["nf4_over_fp32_step"] = round(nf4["step_s"] / fp32["step_s"], 2)
    (HERE / "smollm2_cpu_step.json").write_text(json.dumps(results, indent=2))
    lines = ["# SmolLM2-135M-Instruct: where a CPU training step goes (issue 11)", "",
             f"Measured {results['machine']['date']} with `benchmarks/labs/smollm2_cpu_step.py` on {results['machine']['nproc']} "
             "cores shared with other engineers' work (load averages below): compare the two modes, not the absolute "
             f"times. Batch: the first {args.batch} legal-format examples; {args.threads} torch thread(s); LoRA r=16 on all "
             "linear layers; fp32 compute. Each mode: one untimed step, then the timed ones (the last under "
             "torch.profiler).", "",
             "| base | step (median) | forward | backward | optimizer | tokens | load before |", "|---|---|---|---|---|---|---|"]
    for m in results["modes"]:
        lines.append(f"| {m['quantization']} | {m['step_s']} s | {m['forward_s']} s | {m['backward_s']} s | "
                     f"{m['optimizer_s']} s | {m['tokens']} | {m['load_before']} |")
    lines += ["", f"4-bit step / fp32 step: **{results['nf4_over_fp32_step']}x**.", ""]
    for m in results["modes"]:
        lines.append(f"Top operators by self CPU time, {m['quantization']}: "
                     + "; ".join(f"`{k}` {s} s ({share:.0%})" for k, s, share in m["profile_top_ops"][:8]))
        lines.append("")
    (HERE / "smollm2_cpu_step.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
