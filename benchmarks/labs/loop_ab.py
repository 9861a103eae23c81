"""Our training loop from several source trees, alternating in one run: CPU seconds and wall seconds a step (issue 11).

Each round runs `python -m labs train --recipe legal-format --engine loop` (with the short evaluation that
run_bench.py's engine pairs use) once from each tree, the order rotated every round so load elsewhere hits all
alike, on one built tiny base. From each run's metrics: the training steps' CPU and wall seconds (validation passes
excluded, as the engines comparison does), the first and last training loss and the validation loss. On a shared
machine the CPU seconds are the steadier measure of work; compare the trees within this run only.

    .venv/bin/python benchmarks/labs/loop_ab.py --tree old=/tmp/old --tree new=. [--rounds 4] [--name loop_ab]

A tree is a checkout holding `labs/` (e.g. `git archive main labs | tar -x -C /tmp/old`). Writes NAME.json and
NAME.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from run_bench import SHORT_EVAL, load, machine  # noqa: E402

COMMAND = ["-m", "labs", "train", "--recipe", "legal-format", "--base", "tiny", "--engine", "loop", "--quiet",
           *SHORT_EVAL]


def one_run(tree: Path, run_dir: Path, data: Path) -> dict:
    """A fresh process from `tree`: its training figures from metrics.json, and the load around it."""
    env = {**os.environ, "COURSE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tree)}
    load_before = load()
    proc = subprocess.run([sys.executable, *COMMAND, "--run-dir", str(run_dir)], cwd=tree, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"run in {tree} failed: {proc.stderr[-2000:]}")
    m = json.loads((run_dir / "metrics.json").read_text())
    return {"cpu_s_per_step": round(m["train_cpu_s"] / m["steps"], 4),
            "wall_s_per_step": round(m["train_duration_s"] / m["steps"], 4),
            "train_loss_first": m["train_loss_first"], "train_loss": m["train_loss"], "eval_loss": m["eval_loss"],
            "load_before": load_before, "load_after": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="a data dir holding models/tiny")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--name", default="loop_ab")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    work = Path(tempfile.mkdtemp(prefix="loop-ab-"))
    results: dict = {"machine": machine(), "trees": trees, "command": "python " + " ".join(COMMAND), "runs": {}}
    names = list(trees)
    for i in range(args.rounds):
        order = names[i % len(names):] + names[: i % len(names)]
        for name in order:
            r = one_run(Path(trees[name]).resolve(), work / f"{name}-{i}", args.data)
            results["runs"].setdefault(name, []).append(r)
            print(name, r["cpu_s_per_step"], "CPU s/step", r["wall_s_per_step"], "wall s/step", file=sys.stderr)
    results["load_at_end"] = load()
    results["median"] = {name: {k: round(statistics.median(r[k] for r in runs), 4) for k in ("cpu_s_per_step",
                                                                                 "wall_s_per_step")}
                         for name, runs in results["runs"].items()}
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"{args.name}.md").write_text(report(results, args))
    print(report(results, args))


def report(r: dict, args) -> str:
    first = next(iter(r["median"]))
    lines = [
        "# Our training loop, source trees alternating in one run (issue 11)", "",
        f"Measured {r['machine']['date']} with `benchmarks/labs/loop_ab.py "
        + " ".join(f"--tree {k}={v}" for k, v in r["trees"].items()) + f" --rounds {args.rounds}`; raw numbers in "
        f"`{args.name}.json`. `nproc` {r['machine']['nproc']}; load average at the end {r['load_at_end']}. "
        f"Command: `{r['command']}`. Training steps only (validation passes excluded).", "",
        f"| tree | CPU s/step (median) | wall s/step (median) | CPU vs {first} | wall vs {first} | "
        "per run, CPU s/step | losses (first, last, validation) |", "|---|---|---|---|---|---|---|",
    ]
    base = r["median"][first]
    for name, med in r["median"].items():
        runs = r["runs"][name]
        losses = sorted({(x["train_loss_first"], x["train_loss"], x["eval_loss"]) for x in runs})
        lines.append(f"| {name} | {med['cpu_s_per_step']} | {med['wall_s_per_step']} | "
                     f"{base['cpu_s_per_step'] / med['cpu_s_per_step']:.3f}x | "
                     f"{base['wall_s_per_step'] / med['wall_s_per_step']:.3f}x | "
                     f"{', '.join(str(x['cpu_s_per_step']) for x in runs)} | {'; '.join(map(str, losses))} |")
    lines += ["", "Load average before each run: " + "; ".join(
        f"{name} " + ", ".join(str(x["load_before"][0]) for x in runs) for name, runs in r["runs"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
