"""Where `course-lab base build` spends its time: each stage of building the tiny base timed in wall and CPU seconds
(CPU seconds are the fairer figure on a shared machine), a sample of pretraining steps with torch.profiler's
operators, the projection to the full build, and (unless --no-compare) the whole build before and after issue 11's
spec change: `course-lab base build` itself (base and chapter 3's ΔW) in a fresh data dir, each in a fresh process,
the two started together so they share one load. Writes base_build_profile.json and .md
beside this file; the hand-written section of the .md from "## Cutting pretraining" on is kept.

    nice -n 10 .venv/bin/python benchmarks/labs/base_build_profile.py [--steps 20] [--no-compare]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it before torch loads


KEPT_SECTION = "## Cutting pretraining"
# The `tiny` spec shipped before issue 11's third round: 4 layers, 24 windows a step.
BEFORE = {"num_layers": 4, "batch_size": 24, "version": 1}
BEFORE_LABEL = "before: 4 layers, 200 steps x 24 windows"
# `course-lab base build` as a learner runs it (base, then chapter 3's ΔW), with `tiny` replaced by a variant
BUILD = ("import dataclasses, json, sys; from labs import base; "
         "base.SPECS['tiny'] = dataclasses.replace(base.SPECS['tiny'], **json.loads(sys.argv[1])); "
         "from labs.cli import main; code = main(['base', 'build']); "
         "print(json.load(open(base.models_dir() / 'tiny' / 'build.json'))['final_loss']); sys.exit(code)")


def whole_builds(changes: dict[str, dict], tmp: str) -> dict:
    """Full builds started together, each in a fresh process (imports included, as `course-lab base build`), so
    they share one load; wall, CPU (from each child's rusage) and final pretraining loss of each."""
    started = {k: (time.perf_counter(), subprocess.Popen(
        [sys.executable, "-c", BUILD, json.dumps(v)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "COURSE_DATA_DIR": f"{tmp}/{k}"}))
        for k, v in changes.items()}
    out = {}
    by_pid = {proc.pid: k for k, (_, proc) in started.items()}
    while by_pid:  # reap whichever finishes first, so each wall time ends when that build ends
        pid, status, usage = os.wait4(-1, 0)
        if pid not in by_pid:
            continue
        k = by_pid.pop(pid)
        w, proc = started[k]
        proc.returncode = status
        if status != 0:
            raise SystemExit(f"build {k} failed ({status})")
        out[k] = {"wall_s": round(time.perf_counter() - w, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                  "final_loss": float(proc.stdout.read().split()[-1]),
                  "load": [round(x, 2) for x in os.getloadavg()]}
    return out


def compare(rounds: int) -> dict:
    """Old and new spec built side by side, so both see the same load."""
    runs: dict = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            pair = whole_builds({"before": BEFORE, "after": {}}, tmp)
            for k, v in pair.items():
                runs[k].append(v)
    return runs


def timed(stages: dict, name: str, fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    stages[name] = {"wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(time.process_time() - c, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="pretraining steps to time (the build runs 200)")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--rounds", type=int, default=1, help="before/after pairs of whole builds")
    parser.add_argument("--no-compare", action="store_true", help="skip the whole builds")
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    stages: dict = {}
    timed(stages, "import torch, transformers", lambda: __import__("transformers") and __import__("torch"))
    import torch
    from torch.profiler import ProfilerActivity, profile

    from labs import base

    spec = base.SPECS["tiny"]
    texts = timed(stages, "corpus (words for the tokenizer)", lambda: base.corpus_texts(spec))
    tokenizer = timed(stages, "tokenizer training", lambda: base.train_tokenizer(texts, spec))
    sample = dataclasses.replace(spec, steps=args.steps)
    # pretrain() tokenises the templated corpus, then steps; time the steps alone through its callback
    marks: list[tuple[float, float]] = []
    timed(stages, f"pretraining, {args.steps} steps (with tokenising the corpus)", lambda: base.pretrain(
        sample, tokenizer, on_step=lambda *_: marks.append((time.perf_counter(), time.process_time())),
        show_progress=False))
    per_step = {"wall_s": round((marks[-1][0] - marks[1][0]) / (len(marks) - 2), 4),
                "cpu_s": round((marks[-1][1] - marks[1][1]) / (len(marks) - 2), 4)}  # after the first step
    model, _ = base.pretrain(dataclasses.replace(spec, steps=1), tokenizer, show_progress=False)
    model.train()
    x = torch.randint(0, len(tokenizer), (spec.batch_size, spec.seq_len))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            model(input_ids=x, labels=x).loss.backward()
    comparison = None if args.no_compare else compare(args.rounds)
    ops = sorted(((e.key, e.self_cpu_time_total / 1e6) for e in prof.key_averages()), key=lambda kv: -kv[1])
    total = sum(s for _, s in ops)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "nproc": os.cpu_count(), "nice": os.nice(0),
        "threads": torch.get_num_threads(), "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()], "spec": dataclasses.asdict(spec),
        "tokens_per_step": spec.tokens_per_step(), "stages": stages, "per_pretraining_step": per_step,
        "projected_pretraining_cpu_s": round(per_step["cpu_s"] * spec.steps, 1),
        "forward_backward_top_ops": [(k, round(s, 3), round(s / total, 3)) for k, s in ops[:10]],
        "whole_build": comparison, "before_spec_changes": BEFORE,
    }
    (args.out / "base_build_profile.json").write_text(json.dumps(result, indent=2))
    md_path = args.out / "base_build_profile.md"
    old = md_path.read_text() if md_path.exists() else ""
    kept = old[old.index(KEPT_SECTION):] if KEPT_SECTION in old else ""
    md_path.write_text(markdown(result) + ("\n" + kept if kept else ""))
    print(markdown(result))


def markdown(r: dict) -> str:
    return "\n".join([
        "# Where `course-lab base build` spends its time (issue 11)", "",
        f"Measured {r['date']} with `benchmarks/labs/base_build_profile.py`; raw numbers in "
        f"`base_build_profile.json`. `nproc` {r['nproc']}, {r['threads']} torch threads, nice {r['nice']}, on cores "
        f"shared with other engineers' work (load average {r['load_before']} before, {r['load_after']} after): wall "
        "times are inflated by the sharing, CPU seconds much less so.", "",
        "| stage | wall | CPU |", "|---|---|---|",
        *[f"| {k} | {v['wall_s']} s | {v['cpu_s']} s |" for k, v in r["stages"].items()],
        f"| one pretraining step ({r['tokens_per_step']:,} tokens) | {r['per_pretraining_step']['wall_s']} s | "
        f"{r['per_pretraining_step']['cpu_s']} s |",
        f"| projected: all {r['spec']['steps']} pretraining steps | | {r['projected_pretraining_cpu_s']} s |", "",
        *comparison_lines(r),
        "Operators of a pretraining forward and backward, by self CPU time: " + "; ".join(
            f"`{k}` {s} s ({round(100 * f)}%)" for k, s, f in r["forward_backward_top_ops"]), "",
    ]) + "\n"


def comparison_lines(r: dict) -> list[str]:
    if not r.get("whole_build"):
        return []
    rows = []
    for label, key in ((BEFORE_LABEL, "before"), ("after: as shipped now", "after")):
        for b in r["whole_build"][key]:
            rows.append(f"| {label} | {b['wall_s']} s | {b['cpu_s']} s | {b['final_loss']} | {b['load']} |")
    ratio = [b["cpu_s"] / a["cpu_s"] for b, a in zip(r["whole_build"]["before"], r["whole_build"]["after"])]
    return ["`course-lab base build` in a fresh process and data dir (imports, corpus, tokenizer, pretraining, saving, "
            "chapter 3's ΔW), before and after, "
            "started together in this one run so that both see the same load (each has the cores half the time, so "
            "each wall time is about twice what it would be alone):", "",
            "| build | wall | CPU | final pretraining loss | load average after |", "|---|---|---|---|---|",
            *rows, "", f"CPU before / after: {', '.join(f'{x:.2f}x' for x in ratio)}.", ""]


if __name__ == "__main__":
    main()
