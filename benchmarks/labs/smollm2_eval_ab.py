"""The SmolLM2 lab run's evaluation, before and after a change, back to back (issue 11): the validation loss and
the base's ("before") evaluation of `legal-format-smollm2-cpu`, CPU seconds of each, in two code trees.

Each tree is measured in its own process (its own labs/ and its own recipe), alternating A, B, A, B so both see
the same load; the answers are hashed so "the same measurement" can be checked, not assumed. Writes
smollm2_eval_ab.json and .md beside this file.

    COURSE_DATA_DIR=$PWD/data nice -n 5 .venv/bin/python benchmarks/labs/smollm2_eval_ab.py \\
        --before /path/to/a/main/worktree [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RECIPE = "legal-format-smollm2-cpu"

# Run inside the measured tree: load the recipe's model, then time the validation pass and the base's evaluation.
CHILD = r"""
import hashlib, json, os, sys, time
from labs.cli import configure_process
configure_process()
from labs.quant import import_training_stack
import_training_stack()
from labs.batching import heldout_rows, validation_loss
from labs.config import load_recipe
from labs.evaluate import evaluate_model, inference_view
from labs.train import load_for_training

cfg = load_recipe(sys.argv[1])
model, tokenizer, device = load_for_training(cfg)
held = heldout_rows(cfg, tokenizer)
out = {"eval_batch_size": cfg.eval.batch_size}
with inference_view(model, device, adapter=False):
    c, t = time.process_time(), time.perf_counter()
    out["eval_loss"] = round(validation_loss(model, held, tokenizer.pad_token_id, device, cfg.eval.batch_size), 4)
    out["validation_cpu_s"], out["validation_wall_s"] = time.process_time() - c, time.perf_counter() - t
    c, t = time.process_time(), time.perf_counter()
    result = evaluate_model(model, tokenizer, cfg, None, "before")
    out["evaluation_cpu_s"], out["evaluation_wall_s"] = time.process_time() - c, time.perf_counter() - t
o = result["outputs"]
digest = lambda texts: hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:12]
out.update(greedy_sha=digest(o["greedy"]), sampled_sha=digest(o["sampled"]), regression_sha=digest(o["regression"]),
           compliance=result["greedy"]["compliance"], compliance_sampled=result["sampled"]["compliance"],
           relevance=result["relevance"], relevance_match=result["relevance_match"]["score"],
           format_leak=result["format_leak"])
print(json.dumps(out))
"""


def measure(tree: Path) -> dict:
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, "-c", CHILD, RECIPE], env=env, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{tree} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update({k: round(v, 2) for k, v in result.items() if k.endswith("_s")})
    return {"tree": str(tree), "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a worktree of the code before the change")
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    runs = []
    for _ in range(args.rounds):
        for which, tree in (("before", args.before), ("after", args.after)):
            runs.append({"which": which, **measure(tree.resolve())})
            print(json.dumps(runs[-1]), flush=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "nproc": os.cpu_count(), "nice": os.nice(0),
              "recipe": RECIPE, "runs": runs}
    (args.out / "smollm2_eval_ab.json").write_text(json.dumps(result, indent=2))
    (args.out / "smollm2_eval_ab.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    rows = [f"| {x['which']} | {x['eval_batch_size']} | {x['validation_cpu_s']} / {x['validation_wall_s']} | "
            f"{x['evaluation_cpu_s']} / {x['evaluation_wall_s']} | {x['eval_loss']} | {x['greedy_sha']} "
            f"{x['sampled_sha']} {x['regression_sha']} | {x['load_before']} → {x['load_after']} |" for x in r["runs"]]
    return "\n".join([
        "# SmolLM2 lab run: validation pass and the base's evaluation, before and after (issue 11)", "",
        f"Measured {r['date']} with `benchmarks/labs/smollm2_eval_ab.py` (raw numbers in `smollm2_eval_ab.json`), "
        f"recipe `{r['recipe']}`, `nproc` {r['nproc']}, nice {r['nice']}, trees alternated on a shared machine: "
        "compare the CPU seconds; the wall times carry the load.", "",
        "| code | eval batch | validation pass, CPU / wall s | base evaluation, CPU / wall s | eval loss | "
        "answers (greedy, sampled, general) sha | load average |", "|---|---|---|---|---|---|---|", *rows]) + "\n"


if __name__ == "__main__":
    main()
