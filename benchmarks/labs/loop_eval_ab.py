"""The web default run's training loop and evaluation, old code against new, alternating in one run (issue 11).

Each pair runs `python -m labs train --recipe legal-format --base tiny --quiet` once from each source tree (the
order swapped every pair, so load elsewhere hits both alike), on one copy of one built tiny base. From each run's
events and metrics: the training loop (wall and CPU seconds), the evaluation after it (the `eval` phase to `done`),
launch to done, the process's CPU seconds, the losses and the compliance figures. On a shared machine the CPU
seconds are the steadier measure of work; the ratios compare the two trees within this run only.

    .venv/bin/python benchmarks/labs/loop_eval_ab.py --old OLD_TREE [--new .] --tiny data/models/tiny [--pairs 3]

OLD_TREE is a checkout holding `labs/` (e.g. `git archive main labs | tar -x -C /tmp/old`). Writes
loop_eval_ab.json and loop_eval_ab.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run_bench import load, machine  # noqa: E402
from warm_bench import phases  # noqa: E402

from labs.events import read_events  # noqa: E402

COMMAND = ["-m", "labs", "train", "--recipe", "legal-format", "--base", "tiny", "--quiet"]
KEPT = ("train_duration_s", "train_cpu_s", "train_loss_first", "train_loss", "eval_loss", "compliance_before",
        "compliance_after", "compliance_before_sampled", "compliance_after_sampled", "regression")


def one_run(tree: Path, run_dir: Path, data: Path) -> dict:
    """A fresh process from `tree`; its wall and CPU seconds, phases (from its events) and metrics."""
    env = {**os.environ, "COURSE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tree)}
    load_before = load()
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, *COMMAND, "--run-dir", str(run_dir)], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"run in {tree} failed: {proc.stderr.read().decode()[-2000:]}")
    marks = phases(read_events(run_dir / "events.jsonl"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"wall_s": round(time.time() - t0, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "load_before": load_before, "phases_s": marks,
            "loop_s": round(marks["eval_starts_at"] - marks["train_starts_at"], 2),
            "eval_after_training_s": round(marks["done_at"] - marks["eval_starts_at"], 2),
            "metrics": {k: metrics[k] for k in KEPT}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="the source tree to compare against")
    parser.add_argument("--new", type=Path, default=ROOT)
    parser.add_argument("--tiny", type=Path, required=True, help="a built tiny base, copied once for both trees")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lab-loop-eval-ab-"))
    shutil.copytree(args.tiny, work / "data" / "models" / "tiny")
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    runs: dict = {"old": [], "new": []}
    try:
        for i in range(args.pairs):
            for name in (("old", "new") if i % 2 == 0 else ("new", "old")):
                r = one_run(trees[name], work / "runs" / f"{name}-{i}", work / "data")
                runs[name].append(r)
                print(name, i, {k: r[k] for k in ("wall_s", "cpu_s", "loop_s", "eval_after_training_s")},
                      "load", r["load_before"], file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {"machine": machine(), "command": " ".join(COMMAND), "trees": {k: str(v) for k, v in trees.items()},
               "runs": runs, "load_after": load(), "medians": {}}
    for what in ("wall_s", "cpu_s", "loop_s", "eval_after_training_s", "train_cpu_s"):
        pick = (lambda r: r["metrics"][what]) if what == "train_cpu_s" else (lambda r: r[what])
        med = {name: statistics.median(map(pick, runs[name])) for name in runs}
        results["medians"][what] = {**med, "old_over_new": round(med["old"] / med["new"], 2)}
    (args.out / "loop_eval_ab.json").write_text(json.dumps(results, indent=2))
    (args.out / "loop_eval_ab.md").write_text(report(results))
    print(report(results))


def report(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Training loop and evaluation, old against new, in one run (issue 11)", "",
        f"Measured {m['date']} with `benchmarks/labs/loop_eval_ab.py`; raw numbers in `loop_eval_ab.json`. "
        f"`nproc` {m['nproc']}; load average before each run in the JSON, after the run {r['load_after']}. "
        f"Old: `{r['trees']['old']}`; new: `{r['trees']['new']}`. Command: `python {r['command']}`.", "",
        f"| median of {len(r['runs']['old'])} | old | new | old / new |", "|---|---|---|---|",
    ]
    names = {"wall_s": "launch to done, fresh process (s)", "cpu_s": "process CPU (s)",
             "loop_s": "training loop with its validation passes, wall (s)", "train_cpu_s": "training steps, CPU (s)",
             "eval_after_training_s": "evaluation after training, wall (s)"}
    for key, label in names.items():
        med = r["medians"][key]
        lines.append(f"| {label} | {med['old']} | {med['new']} | {med['old_over_new']} |")
    lines += ["", "Per run (loss first -> last, validation loss, greedy compliance before -> after, sampled after):", ""]
    for name in ("old", "new"):
        for run in r["runs"][name]:
            x = run["metrics"]
            lines.append(f"- {name}: loss {x['train_loss_first']} -> {x['train_loss']}, eval loss {x['eval_loss']}, "
                         f"{x['compliance_before']:.0%} -> {x['compliance_after']:.0%} greedy, "
                         f"{x['compliance_after_sampled']:.0%} sampled, format leak "
                         f"{x['regression']['format_leak_after']:.0%}; load before {run['load_before']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
