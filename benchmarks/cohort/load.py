"""Load benchmark of a cohort: 200 learners opening chapters and answering quizzes at once, against
one uvicorn worker, on SQLite and then on PostgreSQL; checks that no write is lost and nothing fails.

For each backend: start `course serve` (one worker) on a free loopback port with a scratch data dir
(and, for PostgreSQL, a throwaway server from tests/postgres_server.py); outside the measured window,
create an instructor with `course users create`, a cohort, and LEARNERS accounts that join it. Then,
from this process (asyncio + httpx, loopback only), every learner loops without pause for DURATION
seconds: half of its requests open a chapter page (one visit written), half answer a quiz question
through the JSON API (one answer written). Requests in flight at the deadline finish and count.

Verified afterwards: every answer that got a 200 is a row in quiz_answers and every chapter page that
got a 200 is counted in chapter_visits (read straight from the database), and the instructor's
dashboard shows, for each learner and chapter, exactly the score that learner's own last answers
imply. Reported: requests, throughput, p50/p99 per kind, 5xx, other errors, lost writes.

Committed results: results.json with no pause between a learner's requests (the server saturated: the
throughput is its capacity, latency is mostly queueing) and results-paced.json with --think-ms 3000 (a
busy cohort below capacity: latency is what a learner feels).

Usage: .venv/bin/python benchmarks/cohort/load.py [--learners 200] [--duration 60] [--backends sqlite,postgresql]
                                                  [--think-ms 0]
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from app.content import load_course  # noqa: E402
from app.models import ChapterVisit, CohortMember, Learner, QuizAnswer  # noqa: E402
from tests.postgres_server import TemporaryPostgres  # noqa: E402

PASSWORD = "benchmark passphrase"
COURSE = load_course(ROOT / "chapters")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class SimulatedLearner:
    """One simulated learner: a browser's cookies, and what it was told was recorded."""

    def __init__(self, base: str, n: int):
        # Idle connections expire before uvicorn's 5 s keep-alive does, so a request never races the
        # server closing the connection it is about to reuse.
        self.client = httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(keepalive_expiry=2))
        self.email = f"learner{n:04d}@example.org"
        self.user_id: int | None = None
        self.answers_ok = 0
        self.visits_ok = 0
        self.last_answer: dict[tuple[str, str], bool] = {}  # (chapter, question) → correct

    async def post(self, url: str, body: dict) -> httpx.Response:
        return await self.client.post(url, json=body, headers={"x-csrftoken": self.client.cookies["csrftoken"]})

    async def sign_up(self, code: str) -> None:
        await self.client.get("/healthz")
        registered = await self.post(
            "/api/auth/register", {"email": self.email, "password": PASSWORD, "display_name": self.email[:12]}
        )
        registered.raise_for_status()
        self.user_id = registered.json()["id"]
        (await self.post("/api/cohorts/join", {"code": code})).raise_for_status()


async def run_learner(
    learner: SimulatedLearner, deadline: float, rng: random.Random, samples: dict, failures: dict, think_s: float
) -> None:
    while time.monotonic() < deadline:
        if think_s:
            await asyncio.sleep(rng.uniform(0, 2 * think_s))
        chapter = rng.choice(COURSE.chapters)
        started = time.perf_counter()
        try:
            if rng.random() < 0.5:
                kind = "open_chapter"
                response = await learner.client.get(chapter.url)
            else:
                kind = "answer_quiz"
                question = rng.choice(chapter.meta.quiz)
                option = rng.choice(question.options)
                response = await learner.post(
                    f"/api/chapters/{chapter.slug}/quiz/{question.id}", {"option": option.id}
                )
        except httpx.HTTPError as exc:
            failures[f"transport: {type(exc).__name__}"] += 1
            continue
        samples[kind].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            failures["5xx"] += 1
        elif response.status_code != 200:
            failures[f"status {response.status_code}"] += 1
        elif kind == "open_chapter":
            learner.visits_ok += 1
        else:
            learner.answers_ok += 1
            learner.last_answer[(chapter.slug, question.id)] = option.correct


def verify(db_url: str, cohort: dict, learners: list[SimulatedLearner]) -> dict:
    """Compare what the server said it recorded with the database and the instructor's dashboard."""
    engine = create_engine(db_url)
    members = select(Learner.id).join(CohortMember, CohortMember.user_id == Learner.account_id).where(
        CohortMember.cohort_id == cohort["id"]
    )
    with engine.connect() as connection:
        stored_answers = connection.scalar(select(func.count()).where(QuizAnswer.learner_id.in_(members)))
        stored_visits = connection.scalar(
            select(func.coalesce(func.sum(ChapterVisit.visits), 0)).where(ChapterVisit.learner_id.in_(members))
        )
    engine.dispose()
    rows = {row["id"]: row for row in cohort["dashboard"]["learners"]}
    mismatched_cells = 0
    for learner in learners:
        expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (slug, _question), correct in learner.last_answer.items():
            expected[slug][0] += 1
            expected[slug][1] += correct
        for chapter in COURSE.chapters:
            shown = rows[learner.user_id]["chapters"][chapter.slug]
            if [shown["answered"], shown["correct"]] != expected.get(chapter.slug, [0, 0]):
                mismatched_cells += 1
    sent_answers = sum(learner.answers_ok for learner in learners)
    sent_visits = sum(learner.visits_ok for learner in learners)
    return {
        "answers_acknowledged": sent_answers,
        "answers_in_database": stored_answers,
        "visits_acknowledged": sent_visits,
        "visits_in_database": stored_visits,
        "dashboard_cells_not_matching_learners_own_answers": mismatched_cells,
        "lost_writes": (sent_answers - stored_answers) + (sent_visits - stored_visits) + mismatched_cells,
    }


async def measure(base: str, code: str, db_url: str, args) -> dict:
    learners = [SimulatedLearner(base, n) for n in range(args.learners)]
    gate = asyncio.Semaphore(8)  # sign-ups hash passwords (argon2id); no point queueing 200 at once

    async def sign_up(learner):
        async with gate:
            await learner.sign_up(code)

    started = time.monotonic()
    await asyncio.gather(*(sign_up(learner) for learner in learners))
    setup_s = time.monotonic() - started

    samples: dict[str, list[float]] = {"open_chapter": [], "answer_quiz": []}
    failures: dict[str, int] = defaultdict(int)
    rng = random.Random(42)
    start = time.monotonic()
    deadline = start + args.duration
    await asyncio.gather(
        *(
            run_learner(learner, deadline, random.Random(rng.random()), samples, failures, args.think_ms / 1000)
            for learner in learners
        )
    )
    elapsed = time.monotonic() - start
    await asyncio.gather(*(learner.client.aclose() for learner in learners))
    return {"learners": learners, "samples": samples, "failures": dict(failures), "elapsed_s": elapsed,
            "setup_s": setup_s}


def start_server(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None:
                raise RuntimeError(f"course serve exited: {server.stderr.read()}")
            time.sleep(0.2)
    raise RuntimeError("course serve did not answer within 60 s")


def instructor_cohort(base: str, env: dict) -> tuple[httpx.Client, dict]:
    subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "create", "--email", "teacher@example.org", "--role", "instructor"],
        input=PASSWORD + "\n", env=env, check=True, capture_output=True, text=True, timeout=120,
    )
    teacher = httpx.Client(base_url=base, timeout=120)
    teacher.get("/healthz")
    token = {"x-csrftoken": teacher.cookies["csrftoken"]}
    teacher.post("/api/auth/login", json={"email": "teacher@example.org", "password": PASSWORD}, headers=token).raise_for_status()
    created = teacher.post("/api/cohorts", json={"name": "Load test cohort"}, headers=token)
    created.raise_for_status()
    return teacher, created.json()


def run_backend(backend: str, args, pg: TemporaryPostgres | None) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"cohort-bench-{backend}-"))
    db_url = pg.create_database("cohort_bench") if pg else f"sqlite:///{data_dir / 'course.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "COURSE_DATA_DIR": str(data_dir),
        "COURSE_DATABASE_URL": db_url,
        # All simulated learners share 127.0.0.1; the per-address sign-up limit would stop the set-up.
        "COURSE_AUTH_RATE_LIMIT_PER_IP": "100000/minute",
    }
    server = start_server(env, port)
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        teacher, cohort = instructor_cohort(base, env)
        result = asyncio.run(measure(base, cohort["join_code"], db_url, args))
        asked = time.perf_counter()
        dashboard = teacher.get(f"/api/cohorts/{cohort['id']}/dashboard")
        dashboard_ms = (time.perf_counter() - asked) * 1000
        dashboard.raise_for_status()
        checks = verify(db_url, {"id": cohort["id"], "dashboard": dashboard.json()}, result["learners"])
    finally:
        server.terminate()
        server.wait(timeout=30)

    samples = result["samples"]
    every = samples["open_chapter"] + samples["answer_quiz"]
    report = {
        "backend": backend,
        "database": pg.version() if pg else f"SQLite {sqlite3.sqlite_version} (WAL, busy timeout, BEGIN IMMEDIATE)",
        "learners": args.learners,
        "duration_s": round(result["elapsed_s"], 1),
        "setup_s_not_measured": round(result["setup_s"], 1),
        "requests": len(every),
        "throughput_req_per_s": round(len(every) / result["elapsed_s"], 1),
        "latency_ms": {
            kind: {"count": len(values), "p50": round(percentile(values, 50), 1),
                   "p99": round(percentile(values, 99), 1), "mean": round(statistics.fmean(values), 1) if values else 0}
            for kind, values in {"all": every, **samples}.items()
        },
        "load_average_before_and_after": [load_before, [round(x, 2) for x in os.getloadavg()]],
        "dashboard_json_ms_after_the_run": round(dashboard_ms, 1),
        "server_errors_5xx": result["failures"].get("5xx", 0),
        "other_failures": {k: v for k, v in result["failures"].items() if k != "5xx"},
        **checks,
    }
    print(json.dumps(report, indent=2), flush=True)
    return report


def machine() -> dict:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.*)", cpu)
    memory = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(memory.group(1)) / 1024**2, 1) if memory else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--duration", type=int, default=60, help="measured seconds per backend (default 60)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--think-ms", type=float, default=0,
        help="mean pause between a learner's requests (default 0: every learner clicks again at once)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()

    host = machine()  # before the runs, so the load average says how busy the machine was beforehand
    runs = []
    for backend in args.backends.split(","):
        if backend == "postgresql":
            with TemporaryPostgres() as pg:
                runs.append(run_backend(backend, args, pg))
        else:
            runs.append(run_backend(backend, args, None))

    report = {
        "command": f".venv/bin/python benchmarks/cohort/load.py --learners {args.learners} "
        f"--duration {args.duration} --backends {args.backends} --think-ms {args.think_ms:g}",
        "setup": (
            f"one uvicorn worker (course serve --workers 1) on 127.0.0.1; {args.learners} learners from a separate "
            f"process (asyncio + httpx, one connection each, mean pause {args.think_ms:g} ms between requests, so with 0 "
            "the server is saturated and latency is mostly queueing): 50% open a chapter page, "
            "50% answer a quiz question through POST /api/chapters/{slug}/quiz/{id}. Sign-ups happen before the "
            "measured window. Lost writes are checked against the database and the instructor's dashboard."
        ),
        "machine": host,
        "runs": runs,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    failed = any(run["lost_writes"] or run["server_errors_5xx"] for run in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
