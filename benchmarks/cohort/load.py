"""Load benchmark of a class: LEARNERS learners reading chapters, moving sliders and answering quizzes
with think time between clicks, while one instructor refreshes the cohort dashboard; on SQLite (one
worker) and PostgreSQL (WORKERS uvicorn workers, rate limits in a throwaway Redis). Checks that no
write is lost and nothing fails.

For each backend: start `course serve --workers N` on a free loopback port with a scratch data dir (and,
for PostgreSQL, a throwaway server from tests/postgres_server.py); outside the measured window, create an
instructor with `course users create`, a cohort, and LEARNERS accounts in it (written straight into the
database; each learner's browser gets a signed session cookie instead of logging in). Then, from this
process (asyncio + aiohttp, loopback only), every learner loops for DURATION seconds: it pauses a random
0-2x THINK ms, then opens a chapter page (one visit written), moves one of a simulation's sliders to a
random value on its step, as a range input sends (the htmx fragment; the model runs unless its worker ran
that state before), or answers a quiz question through the JSON
API (one answer written), in the proportions of --mix. The instructor reloads the dashboard page every
5 s. A pause that would end past the deadline ends the learner; requests in flight at the deadline finish
and count. The learners run in a thread --driver-nice steps nicer than the servers (they stand for browsers
on other machines), and the CPU of the driver, the server and the database (PostgreSQL, Redis) is reported
per request.

Verified after the server has stopped (so every counted view has been written): every answer that got
a 200 is a row in quiz_answers, every chapter page that got a 200 is counted in chapter_visits (read
straight from the database), and the instructor's dashboard shows, for each learner and chapter,
exactly the score that learner's own last answers imply. Reported: requests, throughput, p50/p99 per
kind, 5xx, other errors, lost writes, load average, and how often a slider move asked for a state asked
for before (the run cache's hit rate, were it shared by the workers).

With --baseline COMMIT, the server of that commit (a temporary `git worktree`, run with this checkout's
virtualenv and driver) is measured first on each backend, then this checkout's: compare the two as ratios
within one run (server CPU per request moves least with the machine's other work).

Usage: .venv/bin/python benchmarks/cohort/load.py [--learners 1000] [--duration 60] [--think-ms 5000]
           [--backends sqlite,postgresql] [--workers N (default: cores, for PostgreSQL)] [--out FILE]
           [--baseline COMMIT] [--port FIRST] [--driver-nice 10]
"""

import argparse
import asyncio
import base64
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
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
from itsdangerous import TimestampSigner
from sqlalchemy import create_engine, func, insert, select
from yarl import URL

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import simulations  # noqa: E402
from app.content import load_course  # noqa: E402
from app.models import ChapterVisit, CohortMember, Learner, QuizAnswer, User  # noqa: E402
from app.passwords import hash_password  # noqa: E402
from simulations.params import params_schema  # noqa: E402
from tests.postgres_server import TemporaryPostgres  # noqa: E402
from tests.redis_server import TemporaryRedis  # noqa: E402

PASSWORD = "benchmark passphrase"
SECRET_KEY = "cohort-benchmark-only-secret-key"
COURSE = load_course(ROOT / "chapters")
DASHBOARD_EVERY_S = 5.0
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
# A slider per simulation: (field, low, high, step), the first linear numeric one. A browser's range input
# sends low + k * step only (the page sets step from the field's x-step), so the learners here do too.
SLIDERS = {
    name: next(
        (field, prop["minimum"], prop["maximum"], prop.get("x-step") or 1)
        for field, prop in params_schema(module.Params)["properties"].items()
        if prop.get("type") in ("integer", "number") and prop.get("x-scale") != "log"
    )
    for name, module in simulations.REGISTRY.items()
}


def slider_value(rng: random.Random, low: float, high: float, step: float) -> str:
    """A value the slider can take, as the browser writes it."""
    return as_written(low + step * rng.randint(0, int((high - low) // step)))


def as_written(value: float) -> str:
    """A number as a range input writes it: "250", not "250.0"."""
    return str(int(value)) if float(value).is_integer() else str(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Reply:
    """What a learner needs of a response: its status (the body is read whole and left compressed)."""

    __slots__ = ("status_code",)

    def __init__(self, status_code: int):
        self.status_code = status_code


class SimulatedLearner:
    """One simulated learner: a browser's cookies and connection, and what it was told was recorded.

    The client is aiohttp (C-accelerated HTTP parsing), not httpx: at 1,000 learners httpx spent about as
    much CPU per request as the server did, on the same two cores (see client_cpu_ms_per_request)."""

    def __init__(self, base: str, n: int):
        self.base = URL(base)
        # One connection, as a browser tab keeps; idle ones expire before uvicorn's 5 s keep-alive does, so a
        # request never races the server closing the connection it is about to reuse. Bodies are read whole
        # but not decompressed: the server's work is what is measured, and browsers offer zstd, which this
        # aiohttp cannot decode.
        self.client = aiohttp.ClientSession(
            base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True),  # unsafe: cookies from 127.0.0.1
            connector=aiohttp.TCPConnector(limit=1, keepalive_timeout=2),
            timeout=aiohttp.ClientTimeout(total=120), auto_decompress=False,
            headers={"Accept-Encoding": BROWSER_ENCODINGS},
        )
        self.email = f"learner{n:04d}@example.org"
        self.user_id: int | None = None
        self.answers_ok = 0
        self.visits_ok = 0
        self.last_answer: dict[tuple[str, str], bool] = {}  # (chapter, question) → correct
        self.slider_states: list[tuple[float, str, str]] = []  # (when, simulation, value) of each slider move

    async def request(self, method: str, url: str, **kwargs) -> Reply:
        async with self.client.request(method, url, **kwargs) as response:
            await response.read()
            return Reply(response.status)

    async def post(self, url: str, body: dict) -> Reply:
        token = self.client.cookie_jar.filter_cookies(self.base)["csrftoken"].value
        return await self.request("POST", url, json=body, headers={"x-csrftoken": token})

    async def sign_in(self, secret_key: str) -> None:
        """A session cookie for this learner's account, signed as the server signs it, and a CSRF cookie."""
        session = {"user": self.user_id, "version": 1, "nonce": f"bench-{self.user_id}"}
        payload = base64.b64encode(json.dumps(session).encode())
        self.client.cookie_jar.update_cookies({"session": TimestampSigner(secret_key).sign(payload).decode()}, self.base)
        reply = await self.request("GET", "/healthz")
        if reply.status_code != 200:
            raise RuntimeError(f"/healthz answered {reply.status_code} while signing learners in")


def enrol(db_url: str, cohort_id: int, learners: list[SimulatedLearner]) -> None:
    """Accounts and cohort memberships written straight into the database, with one argon2id hash for all:
    a thousand sign-ups through the API hash a thousand passwords (half an hour on two busy cores), which is
    not what this measures. Logging in is replaced by a session cookie signed with the server's key."""
    engine = create_engine(db_url)
    digest, now = hash_password(PASSWORD), datetime.now(UTC)
    with engine.begin() as connection:
        for learner in learners:
            learner.user_id = connection.execute(
                insert(User).values(email=learner.email, display_name=learner.email[:12], password_hash=digest,
                                    role="learner", session_version=1, created_at=now).returning(User.id)
            ).scalar_one()
        connection.execute(insert(CohortMember), [{"cohort_id": cohort_id, "user_id": learner.user_id,
                                                   "joined_at": now} for learner in learners])
    engine.dispose()


async def one_click(learner: SimulatedLearner, rng: random.Random, mix: dict[str, float]) -> tuple[str, Reply]:
    """One thing a learner does; records what the server acknowledged."""
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    chapter = rng.choice([c for c in COURSE.chapters if c.meta.simulations] if kind == "move_slider" else COURSE.chapters)
    if kind == "open_chapter":
        response = await learner.request("GET", chapter.url)
        if response.status_code == 200:
            learner.visits_ok += 1
    elif kind == "move_slider":
        name = rng.choice(chapter.meta.simulations).name
        field, low, high, step = SLIDERS[name]
        value = slider_value(rng, low, high, step)
        learner.slider_states.append((time.monotonic(), name, value))
        response = await learner.request("GET", f"/simulations/{name}", params={field: value},
                                         headers={"HX-Request": "true"})
    else:
        question = rng.choice(chapter.meta.quiz)
        option = rng.choice(question.options)
        response = await learner.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", {"option": option.id})
        if response.status_code == 200:
            learner.answers_ok += 1
            learner.last_answer[(chapter.slug, question.id)] = option.correct
    return kind, response


async def run_learner(learner, deadline, rng, samples, failures, think_s, mix) -> None:
    while time.monotonic() < deadline:
        if think_s:
            # A pause that would end past the deadline ends the learner at the deadline: sleeping it out made
            # the measured window up to 2x THINK longer than the requests in it, and understated throughput.
            pause = rng.uniform(0, 2 * think_s)
            if time.monotonic() + pause >= deadline:
                return
            await asyncio.sleep(pause)
        started = time.perf_counter()
        try:
            kind, response = await one_click(learner, rng, mix)
        except (aiohttp.ClientError, TimeoutError) as exc:
            failures[f"transport: {type(exc).__name__}"] += 1
            continue
        samples[kind].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            failures["5xx"] += 1
        elif response.status_code != 200:
            failures[f"status {response.status_code}"] += 1


async def run_instructor(teacher: httpx.AsyncClient, cohort_id: int, deadline: float, samples, failures) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = await teacher.get(f"/cohorts/{cohort_id}")
        except httpx.HTTPError as exc:
            failures[f"transport: {type(exc).__name__}"] += 1
        else:
            samples["instructor_dashboard"].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures["5xx" if response.status_code >= 500 else f"status {response.status_code}"] += 1
        await asyncio.sleep(max(0.0, min(DASHBOARD_EVERY_S, deadline - time.monotonic())))


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
        "lost_writes": abs(sent_answers - stored_answers) + abs(sent_visits - stored_visits) + mismatched_cells,
    }


async def measure(base: str, cohort: dict, teacher_cookies, db_url: str, server_pid: int, database_pids: list[int],
                  args) -> dict:
    learners = [SimulatedLearner(base, n) for n in range(args.learners)]
    started = time.monotonic()
    enrol(db_url, cohort["id"], learners)
    await asyncio.gather(*(learner.sign_in(SECRET_KEY) for learner in learners))
    setup_s = time.monotonic() - started

    kinds = [*args.mix, "instructor_dashboard"]
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    failures: dict[str, int] = defaultdict(int)
    rng = random.Random(42)
    teacher = httpx.AsyncClient(base_url=base, timeout=120, cookies=teacher_cookies)
    start = time.monotonic()
    deadline = start + args.duration
    cpu_before = os.times(), tree_cpu_s(server_pid), sum(tree_cpu_s(pid, reaped=True) for pid in database_pids)
    await asyncio.gather(
        run_instructor(teacher, cohort["id"], deadline, samples, failures),
        *(
            run_learner(learner, deadline, random.Random(rng.random()), samples, failures, args.think_ms / 1000, args.mix)
            for learner in learners
        ),
    )
    elapsed = time.monotonic() - start
    client_times = os.times()
    cpu = {"client_cpu_s": client_times.user + client_times.system - cpu_before[0].user - cpu_before[0].system,
           "server_cpu_s": tree_cpu_s(server_pid) - cpu_before[1],
           "database_cpu_s": sum(tree_cpu_s(pid, reaped=True) for pid in database_pids) - cpu_before[2]}
    dashboard = (await teacher.get(f"/api/cohorts/{cohort['id']}/dashboard")).json()
    await asyncio.gather(teacher.aclose(), *(learner.client.close() for learner in learners))
    return {"learners": learners, "samples": samples, "failures": dict(failures), "elapsed_s": elapsed,
            "setup_s": setup_s, "dashboard": dashboard, **cpu}


def tree_cpu_s(pid: int, reaped: bool = False) -> float:
    """User + system CPU seconds of a process and its live descendants (uvicorn's workers, PostgreSQL's
    backends), from /proc; with `reaped`, also of the root's children that ended (a closed connection's backend)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            if reaped and current == pid:
                total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # a process that ended meanwhile
    return total


def start_server(env: dict, port: int, workers: int = 1, cwd: Path | None = None) -> subprocess.Popen:
    """`course serve` from `cwd` (this checkout by default), once /healthz answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None:
                raise RuntimeError(f"course serve exited: {server.stderr.read()}")
            time.sleep(0.2)
    raise RuntimeError("course serve did not answer within 120 s")


def instructor_cohort(base: str, env: dict) -> tuple[httpx.Client, dict]:
    subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "create", "--email", "teacher@example.org", "--role", "instructor"],
        input=PASSWORD + "\n", env=env, check=True, capture_output=True, text=True, timeout=120,
    )
    teacher = httpx.Client(base_url=base, timeout=120)
    teacher.get("/healthz")
    token = {"x-csrftoken": teacher.cookies["csrftoken"]}
    teacher.post("/api/auth/login", json={"email": "teacher@example.org", "password": PASSWORD}, headers=token).raise_for_status()
    # The CSRF token is bound to the session: logging in sets a new one, as a browser's next request would send.
    token = {"x-csrftoken": teacher.cookies["csrftoken"]}
    created = teacher.post("/api/cohorts", json={"name": "Load test cohort"}, headers=token)
    created.raise_for_status()
    return teacher, created.json()


def server_env(data_dir: Path, db_url: str, rate_store: str, checkout: Path) -> dict:
    """The environment of `course serve` from `checkout` on this data dir and database."""
    return {
        **os.environ,
        "COURSE_DATA_DIR": str(data_dir),
        "COURSE_DATABASE_URL": db_url,
        "COURSE_RATE_LIMIT_STORAGE": rate_store,
        "COURSE_SECRET_KEY": SECRET_KEY,
        # All simulated learners share 127.0.0.1; the per-address sign-up limit would stop the set-up.
        "COURSE_AUTH_RATE_LIMIT_PER_IP": "100000/minute",
        "PYTHONPATH": str(checkout),
        # A baseline's worktree has no built static files; it serves this checkout's (built by make setup).
        "COURSE_ASSETS_DIR": str(ROOT / "build" / "assets"),
    }


def in_driver_thread(coroutine, nice: int):
    """Run the learners' event loop to its end in a thread of its own, `nice` steps below this process (Linux
    sets a niceness per thread, so the servers this process starts later keep its own). The learners stand for
    browsers on other machines: sharing the two cores at equal priority, the driver took CPU the server would
    have had (see client_cpu_ms_per_request)."""
    outcome: dict = {}

    def drive() -> None:
        thread_id = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + nice))
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    driver = threading.Thread(target=drive, name="learners")
    driver.start()
    driver.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def run_backend(backend: str, workers: int, args, pg: TemporaryPostgres | None, redis: TemporaryRedis | None,
                checkout: Path = ROOT, label: str = "this_checkout") -> dict:
    """One measured run of the server in `checkout` (this one, or a baseline's worktree)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"cohort-bench-{backend}-"))
    db_url = pg.create_database(f"cohort_bench_{label}") if pg else f"sqlite:///{data_dir / 'course.db'}"
    port = args.port + len(args.ports_used) if args.port else free_port()
    args.ports_used.append(port)
    base = f"http://127.0.0.1:{port}"
    rate_store = redis.url if redis else "memory://"
    env = server_env(data_dir, db_url, rate_store, checkout)
    server = start_server(env, port, workers, cwd=checkout)
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        teacher, cohort = instructor_cohort(base, env)
        database_pids = [pg.server_pid(), redis.process.pid] if pg else []
        result = in_driver_thread(measure(base, cohort, dict(teacher.cookies), db_url, server.pid, database_pids,
                                          args), args.driver_nice)
    finally:
        server.terminate()  # a graceful stop: each worker writes the views it still counts in memory
        server.wait(timeout=60)
    checks = verify(db_url, {"id": cohort["id"], "dashboard": result["dashboard"]}, result["learners"])

    samples = result["samples"]
    every = [value for values in samples.values() for value in values]
    report = {
        "server": label,
        "backend": backend,
        "database": pg.version() if pg else f"SQLite {sqlite3.sqlite_version} (WAL, busy timeout, BEGIN IMMEDIATE)",
        "workers": workers,
        "rate_limit_storage": rate_store.split(":")[0],
        "learners": args.learners,
        "think_ms_mean": args.think_ms,
        "duration_s": round(result["elapsed_s"], 1),
        "setup_s_not_measured": round(result["setup_s"], 1),
        "requests": len(every),
        "throughput_req_per_s": round(len(every) / result["elapsed_s"], 1),
        # CPU per request of the load driver (this process) and of the server (all its workers): which of the
        # two saturates the shared cores, and a cost that moves less with other work on the machine than latency.
        "client_cpu_ms_per_request": round(result["client_cpu_s"] * 1000 / max(1, len(every)), 2),
        "server_cpu_ms_per_request": round(result["server_cpu_s"] * 1000 / max(1, len(every)), 2),
        # PostgreSQL's server and Redis run on the same two cores: their CPU is part of what a request costs.
        "database_cpu_ms_per_request": round(result["database_cpu_s"] * 1000 / max(1, len(every)), 2),
        # The load driver's share of all the CPU the run used (driver, server, database).
        "client_cpu_share": round(result["client_cpu_s"] / max(1e-9, result["client_cpu_s"] + result["server_cpu_s"]
                                                               + result["database_cpu_s"]), 3),
        "client_nice": args.driver_nice,
        "latency_ms": {
            kind: {"count": len(values), "p50": round(percentile(values, 50), 1),
                   "p99": round(percentile(values, 99), 1), "mean": round(statistics.fmean(values), 1) if values else 0}
            for kind, values in {"all": every, **samples}.items()
        },
        "load_average_before_and_after": [load_before, [round(x, 2) for x in os.getloadavg()]],
        "server_errors_5xx": result["failures"].get("5xx", 0),
        "other_failures": {k: v for k, v in result["failures"].items() if k != "5xx"},
        **slider_repeats(result["learners"]),
        **checks,
    }
    print(json.dumps(report, indent=2), flush=True)
    return report


def slider_repeats(learners: list[SimulatedLearner]) -> dict:
    """How often a slider move asked for a state asked for before in the run (by anyone), or a default (the
    server simulates those at start): the hit rate of one run cache shared by every worker, an upper bound for
    the per-worker caches."""
    seen = {(name, as_written(getattr(module.Params(), SLIDERS[name][0]))) for name, module in simulations.REGISTRY.items()}
    moves = sorted(move for learner in learners for move in learner.slider_states)
    repeats = 0
    for _when, name, value in moves:
        repeats += (name, value) in seen
        seen.add((name, value))
    return {"slider_moves": len(moves), "slider_states_distinct": len(seen),
            "slider_moves_to_a_state_seen_before": round(repeats / len(moves), 3) if moves else None}


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


def parse_mix(text: str) -> dict[str, float]:
    mix = {kind: float(weight) for kind, weight in (part.split("=") for part in text.split(","))}
    unknown = set(mix) - {"open_chapter", "move_slider", "answer_quiz"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown kinds in --mix: {', '.join(sorted(unknown))}")
    return mix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=60, help="measured seconds per backend (default 60)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="uvicorn workers on PostgreSQL (SQLite: 1)")
    parser.add_argument("--think-ms", type=float, default=5000, help="mean pause between a learner's clicks (0: none)")
    parser.add_argument("--mix", type=parse_mix, default="open_chapter=0.4,move_slider=0.4,answer_quiz=0.2")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results-class.json"))
    parser.add_argument("--baseline", help="also run the server of this commit (a temporary worktree) before "
                        "this checkout's, per backend, with the same driver: a ratio on the same machine's noise")
    parser.add_argument("--driver-nice", type=int, default=10, help="how many steps nicer than the servers the "
                        "learners' thread runs (0: the same priority, as before this option)")
    parser.add_argument("--port", type=int, default=0, help="the first server's port, the next run's one more "
                        "(default: any free port), for a machine whose engineers share out port ranges")
    args = parser.parse_args()
    args.ports_used = []

    host = machine()  # before the runs, so the load average says how busy the machine was beforehand
    servers = [(ROOT, "this_checkout")]
    baseline_dir = None
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", args.baseline], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        baseline_dir = Path(tempfile.mkdtemp(prefix="cohort-bench-baseline-")) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline_dir), commit], cwd=ROOT, check=True,
                       capture_output=True)
        servers.insert(0, (baseline_dir, f"baseline_{commit[:7]}"))
    runs = []
    try:
        for backend in args.backends.split(","):
            for checkout, label in servers:
                if backend == "postgresql":
                    with TemporaryPostgres() as pg, TemporaryRedis() as redis:
                        runs.append(run_backend(backend, args.workers, args, pg, redis, checkout, label))
                else:
                    runs.append(run_backend(backend, 1, args, None, None, checkout, label))
    finally:
        if baseline_dir:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline_dir)], cwd=ROOT, capture_output=True)

    mix = ",".join(f"{kind}={weight:g}" for kind, weight in args.mix.items())
    report = {
        "command": f".venv/bin/python benchmarks/cohort/load.py --learners {args.learners} --duration {args.duration} "
        f"--backends {args.backends} --workers {args.workers} --think-ms {args.think_ms:g} --mix {mix}"
        f" --driver-nice {args.driver_nice}"
        + (f" --baseline {args.baseline}" if args.baseline else ""),
        "setup": (
            f"course serve on 127.0.0.1: SQLite with one worker, PostgreSQL with {args.workers} workers and rate limits "
            f"in Redis; {args.learners} learners from a separate process (asyncio + aiohttp, one connection each, a "
            f"random pause of 0-{2 * args.think_ms:g} ms before each click, none past the end of the window; their "
            f"thread {args.driver_nice} steps nicer than the servers, as browsers on other machines would take none "
            f"of the server's CPU) doing {mix}; one instructor reloading the dashboard page every "
            f"{DASHBOARD_EVERY_S:g} s. Sign-ups happen before the measured window. CPU per request is counted for the "
            "driver, the server's workers and the database's processes (PostgreSQL and Redis). Lost writes "
            "are checked against the database after a graceful stop, and against the instructor's dashboard. The "
            "2-core machine is shared with other work: see the load averages."
        ),
        "machine": host,
        "runs": runs,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    failed = any(run["lost_writes"] or run["server_errors_5xx"] or run["other_failures"] for run in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
