"""Server CPU per request of each thing a class does, one request at a time, on SQLite with one worker and
LEARNERS learners enrolled: a chapter opened, a slider moved to a new state (the model runs) and to one run
before (a cache hit), a quiz answer, a new learner's first chapter, and the instructor's dashboard page.

The driver is load.py's (same learners, same clicks); the server's CPU is read from /proc before and after each
kind, so the machine's other work moves it less than latency. With --baseline COMMIT the server of that commit
(a temporary `git worktree`) is measured too, alternately with this checkout's, --rounds times each.

Usage: .venv/bin/python benchmarks/cohort/per_action.py [--learners 1000] [--reps 60] [--rounds 2]
           [--baseline COMMIT] [--port FIRST] [--out FILE]
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.cohort import load  # noqa: E402


async def _cpu_ms(server_pid: int, clicks) -> float:
    """Server CPU ms per click of `clicks` (coroutines, awaited one after another)."""
    before, count = load.tree_cpu_s(server_pid), 0
    for click in clicks:
        await click
        count += 1
    return round((load.tree_cpu_s(server_pid) - before) * 1000 / max(1, count), 2)


async def _measure(base: str, db_url: str, server_pid: int, teacher_cookies: dict, cohort_id: int, args) -> dict:
    learners = [load.SimulatedLearner(base, n) for n in range(args.learners)]
    load.enrol(db_url, cohort_id, learners)
    await asyncio.gather(*(learner.sign_in(load.SECRET_KEY) for learner in learners))
    rng = random.Random(1)
    for learner in learners[: args.learners // 3]:  # a cohort with some progress: answers and visits
        for kind in ("answer_quiz", "open_chapter"):
            await load.one_click(learner, rng, {kind: 1})
    pick = lambda: learners[rng.randrange(len(learners))]  # noqa: E731
    out = {}
    for kind in ("open_chapter", "move_slider", "answer_quiz"):
        out[kind] = await _cpu_ms(server_pid, (load.one_click(pick(), rng, {kind: 1}) for _ in range(args.reps)))
    moved = [(learner, state) for learner in learners for state in learner.slider_states][-args.reps:]
    out["move_slider_to_a_state_run_before"] = await _cpu_ms(server_pid, (
        learner.request("GET", f"/simulations/{name}", params={load.SLIDERS[name][0]: value},
                        headers={"HX-Request": "true"})
        for learner, (_when, name, value) in moved
    ))
    async with httpx.AsyncClient(base_url=base, cookies=teacher_cookies, timeout=120) as teacher:
        pages = [teacher.get(f"/cohorts/{cohort_id}") for _ in range(10)]
        out["instructor_dashboard"] = await _cpu_ms(server_pid, pages)
        out["instructor_dashboard_bytes"] = len((await teacher.get(f"/cohorts/{cohort_id}")).content)
    fresh = [load.SimulatedLearner(base, 10_000 + n) for n in range(args.reps)]
    load.enrol(db_url, cohort_id, fresh)
    await asyncio.gather(*(learner.sign_in(load.SECRET_KEY) for learner in fresh))
    out["first_chapter_of_a_new_learner"] = await _cpu_ms(
        server_pid, (load.one_click(learner, rng, {"open_chapter": 1}) for learner in fresh)
    )
    await asyncio.gather(*(learner.client.close() for learner in learners + fresh))
    return out


def run_one(checkout: Path, label: str, port: int, args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="cohort-per-action-"))
    db_url = f"sqlite:///{data_dir / 'course.db'}"
    env = load.server_env(data_dir, db_url, "memory://", checkout)
    server = load.start_server(env, port, 1, cwd=checkout)
    load_before = [round(x, 2) for x in os.getloadavg()]
    base = f"http://127.0.0.1:{port}"
    try:
        teacher, cohort = load.instructor_cohort(base, env)
        cpu = asyncio.run(_measure(base, db_url, server.pid, dict(teacher.cookies), cohort["id"], args))
    finally:
        server.terminate()
        server.wait(timeout=60)
    result = {"server": label, "server_cpu_ms_per_request": cpu,
              "load_average_before_and_after": [load_before, [round(x, 2) for x in os.getloadavg()]]}
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=60, help="requests of each kind (the dashboard: 10)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline")
    parser.add_argument("--port", type=int, default=0, help="first port (default: any free one), one more per run")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results-per-action.json"))
    args = parser.parse_args()
    host = load.machine()
    servers = [(load.ROOT, "this_checkout")]
    worktree = None
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", args.baseline], cwd=load.ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        worktree = Path(tempfile.mkdtemp(prefix="cohort-per-action-baseline-")) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), commit], cwd=load.ROOT, check=True,
                       capture_output=True)
        servers.insert(0, (worktree, f"baseline_{commit[:7]}"))
    runs = []
    try:
        for _ in range(args.rounds):
            for checkout, label in servers:
                runs.append(run_one(checkout, label, args.port + len(runs) if args.port else load.free_port(), args))
    finally:
        if worktree:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=load.ROOT, capture_output=True)
    command = (f".venv/bin/python benchmarks/cohort/per_action.py --learners {args.learners} --reps {args.reps} "
               f"--rounds {args.rounds}" + (f" --baseline {args.baseline}" if args.baseline else ""))
    args.out.write_text(json.dumps({"command": command, "machine": host, "runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
