"""Where a class's p99 comes from: load.py's learners (the same clicks, mix and think time) against one server
with probes (tail_probe/sitecustomize.py), every request timestamped. For the slowest 1% it counts how many
overlap a garbage-collection pause, a write's wait for SQLite's lock, or a moment when a thread of the server
woke late (the cores were busy with other work: the driver, other workers, other processes), and how many
started in the first 10 s (every learner's first views at once). It also reports the CPU the server and the
driver used against the cores there are, which decides whether requests queue for a core at all.

Usage: .venv/bin/python benchmarks/cohort/tail.py [--learners 1000] [--duration 30] [--backend sqlite|postgresql]
           [--workers 1] [--think-ms 5000] [--checkout PATH (default: this one)] [--out FILE]
"""

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.cohort import load  # noqa: E402

PROBE_DIR = Path(__file__).resolve().with_name("tail_probe")
MIX = {"open_chapter": 0.4, "move_slider": 0.4, "answer_quiz": 0.2}
FIRST_S = 10.0
# An overlap counts when the event was at least this long (ms): GC pauses and late wake-ups of a few ms are
# part of every request's cost, not what makes a request 50× the median.
OVER_MS = {"gc_pause": 20, "write_wait_for_lock": 50, "thread_woke_late": 50}


async def _drive(base: str, db_url: str, cohort_id: int, teacher_cookies: dict, args) -> tuple[list, float]:
    """(start wall-clock time, kind, ms, status) of every request, and the wall-clock time the run began."""
    learners = [load.SimulatedLearner(base, n) for n in range(args.learners)]
    load.enrol(db_url, cohort_id, learners)
    await asyncio.gather(*(learner.sign_in(load.SECRET_KEY) for learner in learners))
    samples: list[tuple[float, str, float, int]] = []
    deadline = time.monotonic() + args.duration
    think_s = args.think_ms / 1000

    async def learner_loop(learner, rng) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0, 2 * think_s))
            if time.monotonic() >= deadline:
                return
            wall, began = time.time(), time.perf_counter()
            kind, reply = await load.one_click(learner, rng, MIX)
            samples.append((wall, kind, (time.perf_counter() - began) * 1000, reply.status_code))

    async def instructor_loop() -> None:
        async with load.httpx.AsyncClient(base_url=base, cookies=teacher_cookies, timeout=120) as teacher:
            while time.monotonic() < deadline:
                wall, began = time.time(), time.perf_counter()
                reply = await teacher.get(f"/cohorts/{cohort_id}")
                samples.append((wall, "instructor_dashboard", (time.perf_counter() - began) * 1000, reply.status_code))
                await asyncio.sleep(load.DASHBOARD_EVERY_S)

    rng, started = random.Random(42), time.time()
    await asyncio.gather(instructor_loop(), *(learner_loop(learner, random.Random(rng.random())) for learner in learners))
    await asyncio.gather(*(learner.client.close() for learner in learners))
    return samples, started


def _overlaps(sample, events, prefix: str) -> bool:
    start, _kind, ms, _status = sample
    return any(what.startswith(prefix) and length >= OVER_MS[prefix] and when < start + ms / 1000
               and when + length / 1000 > start for when, what, length in events)


def _summary(samples, events, started: float, elapsed: float, server_cpu_s: float, client_cpu_s: float) -> dict:
    latencies = [ms for _, _, ms, _ in samples]
    p99 = load.percentile(latencies, 99)
    slowest = [sample for sample in samples if sample[2] >= p99]
    kinds = sorted({kind for _, kind, _, _ in samples})
    by_event: dict[str, list[float]] = {}
    for _, what, length in events:
        by_event.setdefault(what, []).append(length)
    return {
        "requests": len(samples),
        "throughput_req_per_s": round(len(samples) / elapsed, 1),
        "errors": sum(1 for *_, status in samples if status >= 400),
        "server_cpu_ms_per_request": round(server_cpu_s * 1000 / len(samples), 2),
        "client_cpu_ms_per_request": round(client_cpu_s * 1000 / len(samples), 2),
        "cores_used_by_server_and_driver": round((server_cpu_s + client_cpu_s) / elapsed, 2),
        "cores": os.cpu_count(),
        "latency_ms": {"p50": round(load.percentile(latencies, 50), 1), "p99": round(p99, 1),
                       **{kind: {"p50": round(load.percentile([s[2] for s in samples if s[1] == kind], 50), 1),
                                 "p99": round(load.percentile([s[2] for s in samples if s[1] == kind], 99), 1)}
                          for kind in kinds}},
        "p99_ms_first_10_s_and_after": [
            round(load.percentile([s[2] for s in samples if s[0] < started + FIRST_S], 99), 1),
            round(load.percentile([s[2] for s in samples if s[0] >= started + FIRST_S], 99), 1)],
        "slowest_1_percent": {
            "requests": len(slowest),
            "by_kind": {kind: sum(1 for s in slowest if s[1] == kind) for kind in kinds},
            "started_in_first_10_s": sum(1 for s in slowest if s[0] < started + FIRST_S),
            **{f"during_{prefix}_over_{OVER_MS[prefix]}_ms": sum(1 for s in slowest if _overlaps(s, events, prefix))
               for prefix in OVER_MS},
        },
        "server_events_ms": {what: {"count": len(lengths), "total": round(sum(lengths)),
                                    "p99": round(load.percentile(lengths, 99), 1), "max": round(max(lengths), 1)}
                             for what, lengths in sorted(by_event.items())},
    }


def run(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="cohort-tail-"))
    probes = data_dir / "probes"
    probes.mkdir()
    postgres = load.TemporaryPostgres() if args.backend == "postgresql" else None
    if postgres:
        postgres.__enter__()
    try:
        db_url = postgres.create_database("cohort_tail") if postgres else f"sqlite:///{data_dir / 'course.db'}"
        env = load.server_env(data_dir, db_url, "memory://", args.checkout)
        env.update(PYTHONPATH=f"{PROBE_DIR}{os.pathsep}{args.checkout}", COHORT_TAIL_PROBE_DIR=str(probes))
        port = load.free_port()
        base = f"http://127.0.0.1:{port}"
        server = load.start_server(env, port, args.workers, cwd=args.checkout)
        load_before = [round(x, 2) for x in os.getloadavg()]
        try:
            teacher, cohort = load.instructor_cohort(base, env)
            cpu_before, times_before, began = load.tree_cpu_s(server.pid), os.times(), time.monotonic()
            samples, started = asyncio.run(_drive(base, db_url, cohort["id"], dict(teacher.cookies), args))
            elapsed = time.monotonic() - began
            server_cpu_s = load.tree_cpu_s(server.pid) - cpu_before
            times = os.times()
            client_cpu_s = times.user + times.system - times_before.user - times_before.system
        finally:
            server.terminate()
            server.wait(timeout=60)
    finally:
        if postgres:
            postgres.__exit__(None, None, None)
    time.sleep(1.5)  # the probes write once a second
    events = [tuple(json.loads(line)) for path in probes.glob("*.jsonl") for line in path.read_text().splitlines()]
    events = [event for event in events if started <= event[0]]
    # The set-up (enrolment, sign-in) is inside `elapsed` too; its CPU is small beside the run's.
    report = {"checkout": str(args.checkout), "backend": args.backend, "workers": args.workers,
              "learners": args.learners, "duration_s": args.duration, "think_ms_mean": args.think_ms,
              **_summary(samples, events, started, elapsed, server_cpu_s, client_cpu_s),
              "load_average_before_and_after": [load_before, [round(x, 2) for x in os.getloadavg()]]}
    print(json.dumps(report, indent=1), flush=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--think-ms", type=float, default=5000)
    parser.add_argument("--checkout", type=Path, default=load.ROOT)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = run(args)
    if args.out:
        args.out.write_text(json.dumps({"machine": load.machine(), **report}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
