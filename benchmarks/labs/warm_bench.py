"""Launch to first loss and launch to done for the web's default run, cold (a fresh `python -m labs` process) against
warm (forked from labs.runners.warm), measured in one run and alternating so that load elsewhere hits both alike.

The command is the one the web service launches (app.lab_runs.scheduler.training_command for recipe legal-format,
base tiny); the clock starts when the runner is asked to start it, as the scheduler does. First-loss launches are
cancelled once their first `loss` event is on disk; the full runs go to `done`, and their events say where the time
went (loading, training, evaluating). Writes warm_results.json and warm_results.md beside this file.

    .venv/bin/python benchmarks/labs/warm_bench.py [--tiny PATH_OF_A_BUILT_TINY_BASE] [--launches 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run_bench import load, machine  # noqa: E402

from labs.events import read_events  # noqa: E402
from labs.runners.local import LocalRunner  # noqa: E402


def web_default_command(run_dir: Path) -> list[str]:
    """What the scheduler's training_command gives for the web form's defaults (recipe legal-format, base tiny)."""
    return [sys.executable, "-m", "labs", "train", "--recipe", "legal-format", "--run-dir", str(run_dir), "--base",
            "tiny", "--quiet"]


def launch(runner: LocalRunner, run_dir: Path, env: dict, until: str) -> dict:
    """Start the run; seconds from the start request to the first `loss` event, and to `done` if `until` is done."""
    run_dir.mkdir(parents=True)
    load_before = load()
    t0 = time.time()
    handle = runner.start(run_dir.name, web_default_command(run_dir), str(run_dir), env, 0.0)
    first_loss = None
    events_path = run_dir / "events.jsonl"
    while True:
        events = read_events(events_path) if events_path.exists() else []
        if first_loss is None and any(e["type"] == "loss" for e in events):
            first_loss = time.time() - t0
            if until == "loss":
                runner.cancel(handle, str(run_dir))
                break
        if events and events[-1]["type"] in ("done", "error"):
            if events[-1]["type"] == "error":
                raise SystemExit(f"run failed: {events[-1]['message']}\n{(run_dir / 'process.log').read_text()}")
            break
        time.sleep(0.02)
    out = {"first_loss_s": round(first_loss, 2), "load_before": load_before}
    if until == "done":
        out["done_s"] = round(time.time() - t0, 2)
        out["phases_s"] = phases(read_events(events_path))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        out["metrics"] = {k: metrics[k] for k in ("compliance_before", "compliance_after", "compliance_before_sampled",
                                                   "compliance_after_sampled", "regression", "train_duration_s",
                                                   "train_loss", "eval_loss")}
    return out


def phases(events: list[dict]) -> dict:
    """Elapsed seconds at which each phase began, from the run's own events (its clock starts at the launch)."""
    marks = {"start_to_first_event": events[0]["elapsed_s"]}
    for e in events:
        if e["type"] == "progress" and e.get("phase"):
            marks.setdefault(f"{e['phase']}_starts_at", e["elapsed_s"])
        if e["type"] == "loss":
            marks.setdefault("first_loss_at", e["elapsed_s"])
    marks["done_at"] = events[-1]["elapsed_s"]
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", type=Path, help="a built tiny base to copy (else it is built, a minute or more)")
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lab-warm-bench-"))
    data = work / "data"
    if args.tiny:
        shutil.copytree(args.tiny, data / "models" / "tiny")
    env = {**os.environ, "COURSE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    if not (data / "models" / "tiny" / "config.json").exists():
        import subprocess

        subprocess.run([sys.executable, "-m", "labs", "base", "build"], env=env, check=True, cwd=ROOT)
    runners = {"cold": LocalRunner(warm=False), "warm": LocalRunner()}
    results: dict = {"machine": machine(), "command": " ".join(web_default_command(Path("RUN_DIR"))[1:]),
                     "first_loss": {"cold": [], "warm": []}, "full": {}}
    try:
        launch(runners["warm"], work / "runs" / "warm-up", env, "loss")  # starts the warm process (not timed)
        for i in range(args.launches):
            for kind, runner in runners.items():
                r = launch(runner, work / "runs" / f"{kind}-{i}", env, "loss")
                results["first_loss"][kind].append(r)
                print(kind, "first loss", r["first_loss_s"], "s; load", r["load_before"], file=sys.stderr)
        for kind, runner in runners.items():
            results["full"][kind] = launch(runner, work / "runs" / f"{kind}-full", env, "done")
            print(kind, "done", results["full"][kind]["done_s"], "s", file=sys.stderr)
    finally:
        for runner in runners.values():
            runner.close()
    for kind in runners:
        times = [r["first_loss_s"] for r in results["first_loss"][kind]]
        results["first_loss"][f"{kind}_median_s"] = statistics.median(times)
    results["first_loss"]["cold_over_warm"] = round(results["first_loss"]["cold_median_s"]
                                                    / results["first_loss"]["warm_median_s"], 2)
    results["load_after"] = load()
    (args.out / "warm_results.json").write_text(json.dumps(results, indent=2))
    (args.out / "warm_results.md").write_text(report(results))
    shutil.rmtree(work, ignore_errors=True)
    print(report(results))


def report(r: dict) -> str:
    fl, full, m = r["first_loss"], r["full"], r["machine"]
    lines = [
        "# Warm lab process: launch to first loss and to done (issue 11)", "",
        f"Measured {m['date']} with `benchmarks/labs/warm_bench.py`; raw numbers in `warm_results.json`. "
        f"`nproc` {m['nproc']}. Cold and warm launches alternate within this one run, so load elsewhere hits both "
        "alike; absolute times are only as good as the machine was quiet. Load average (1, 5, 15 min) before each launch "
        "is in the JSON; after the run: " + str(r["load_after"]) + ".", "",
        f"Command (as the web service launches it): `{r['command']}`", "",
        "| what | cold (fresh process) | warm (forked) | cold / warm |", "|---|---|---|---|",
        f"| first `loss` event after launch, median of {len(fl['cold'])} | {fl['cold_median_s']} s "
        f"({', '.join(str(x['first_loss_s']) for x in fl['cold'])}) | {fl['warm_median_s']} s "
        f"({', '.join(str(x['first_loss_s']) for x in fl['warm'])}) | {fl['cold_over_warm']} |",
        f"| launch to `done`, full default run | {full['cold']['done_s']} s | {full['warm']['done_s']} s | "
        f"{round(full['cold']['done_s'] / full['warm']['done_s'], 2)} |", "",
        "Where a full run's time went (seconds since launch at which each phase began, from its events):", "",
    ]
    for kind in ("cold", "warm"):
        lines.append(f"- {kind}: " + ", ".join(f"{k} {v}" for k, v in full[kind]["phases_s"].items())
                     + f"; training loop {full[kind]['metrics']['train_duration_s']} s; compliance "
                     f"{full[kind]['metrics']['compliance_before']:.0%} -> {full[kind]['metrics']['compliance_after']:.0%}"
                     f" greedy, {full[kind]['metrics']['compliance_after_sampled']:.0%} sampled")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
