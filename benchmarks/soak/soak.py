"""Soak benchmark: one uvicorn worker under a steady mix of chapter pages, simulation runs, lab event
streams (SSE) and quiz answers for a long time; reports errors, latency percentiles per kind, and the
server's memory (RSS) sampled over the whole run, which must end flat.

Set-up (outside the measured window): `course serve` on a free loopback port with a scratch data dir,
launch limits raised for loopback, and a lab base `tiny` that only looks built (a config.json), so each
simulated visitor's one lab run fails in the real job process (once it has loaded torch) and leaves a
finished event stream.
Then USERS visitors loop for DURATION seconds: a chapter page, a simulation at random slider values
(new states fill the bounded run cache), their run's events read to the end over SSE, a quiz answer.

RSS is read from /proc/<server pid>/status every 5 s, with the machine's 1-minute load average and the
requests served so far. "Flat" (see `flatness`) is judged on the last third of the run, when every cache
has filled to its cap or to all the soak can put in it: RSS's least-squares slope there, both against the
clock (under FLAT_SLOPE_MB_PER_MIN) and against the requests served (under FLAT_MB_PER_10K_REQUESTS: on a
loaded machine fewer requests are served a minute, and what grows follows them), and the rise over the last
5 minutes (the last minute's median minus that of the minute 5 minutes before it: a few samples caught in a
burst of large temporaries, +15-20 MB for 5 s, do not count; a steady creep does), under FLAT_RISE_5_MIN_MB.

The run lasts 15 minutes by default: with admission (app.admission) the shared caches fill with the states asked
for twice, which takes the soak's first 5-6 minutes, and bar 3 of a 10-minute run would compare minute 9-10 with
that filling (README.md); a leak has 5 more minutes to show.

Usage: .venv/bin/python benchmarks/soak/soak.py [--duration 900] [--users 6] [--think-ms 50]
The committed results.json says what duration it was run for; README.md beside it explains the RSS curve,
and heap_probe/ splits RSS into live and free heap while a soak runs.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from app.content import load_course  # noqa: E402

COURSE = load_course(ROOT / "chapters")
SAMPLE_EVERY_S = 5.0
FLAT_SLOPE_MB_PER_MIN = 0.5
FLAT_MB_PER_10K_REQUESTS = 0.9  # the time bar at the quiet machine's ~95 req/s (0.5 MB/min = 0.88 MB/10k)
FLAT_RISE_5_MIN_MB = 1.0
STARTUP_TIMEOUT_S = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base: str, server: subprocess.Popen, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Until /healthz answers: by the clock, not a count of tries (a start under tracemalloc on a busy
    machine took over a minute, and a refused connection returns at once)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode} before it served")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the server did not answer /healthz in {timeout_s:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slope(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def flatness(memory: list[tuple[float, float, int]], duration: float) -> dict:
    """The verdict on RSS samples (seconds, MB, requests served so far): see the module's docstring. A server
    that died reads as 0 MB from then on: never flat."""
    last_third = [sample for sample in memory if sample[0] >= 2 * duration / 3]
    by_time = 60 * slope([(t, m) for t, m, _ in last_third])
    by_requests = 10_000 * slope([(r, m) for _, m, r in last_third])
    end = memory[-1][0]
    last_minute = [m for t, m, _ in memory if t >= end - 60]
    minute_before = [m for t, m, _ in memory if end - 360 <= t < end - 300]
    rise = _median(last_minute) - _median(minute_before)
    checks = {
        "last_third_slope_mb_per_min": abs(by_time) < FLAT_SLOPE_MB_PER_MIN,
        "last_third_mb_per_10k_requests": abs(by_requests) < FLAT_MB_PER_10K_REQUESTS,
        "rise_over_last_5_min_mb": bool(minute_before) and abs(rise) < FLAT_RISE_5_MIN_MB,
        "server_alive": all(m > 0 for _, m, _ in memory),
    }
    return {
        "last_third_first": last_third[0][1], "last_third_max": max(m for _, m, _ in last_third),
        "last_third_slope_mb_per_min": round(by_time, 2),
        "last_third_mb_per_10k_requests": round(by_requests, 2),
        "rise_over_last_5_min_mb": round(rise, 2),
        "bars": {"slope_mb_per_min": FLAT_SLOPE_MB_PER_MIN, "mb_per_10k_requests": FLAT_MB_PER_10K_REQUESTS,
                 "rise_over_last_5_min_mb": FLAT_RISE_5_MIN_MB},
        "failed": [name for name, ok in checks.items() if not ok],
        "flat": all(checks.values()),
    }


class Visitor:
    def __init__(self, base: str, rng: random.Random, catalogue: list[dict]):
        self.client = httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(keepalive_expiry=2))
        self.rng = rng
        self.catalogue = catalogue
        self.run_id: str | None = None

    def headers(self) -> dict:
        return {"x-csrftoken": self.client.cookies["csrftoken"]}

    async def start(self) -> None:
        await self.client.get("/healthz")
        launched = await self.client.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny"},
                                          headers=self.headers())
        launched.raise_for_status()
        self.run_id = launched.json()["id"]

    async def wait_finished(self, timeout_s: float = 300) -> None:
        """Until the run's job has failed (it loads the torch stack first) and its event stream is complete."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if (await self.client.get(f"/api/labs/runs/{self.run_id}")).json()["status"] not in ("queued", "running"):
                    return
            except httpx.TransportError:
                pass  # set-up, not measured: a kept-alive connection the server closed meanwhile (a stalled server)
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {self.run_id} did not finish in {timeout_s} s")
            await asyncio.sleep(1)

    async def page(self) -> httpx.Response:
        return await self.client.get(self.rng.choice(COURSE.chapters).url)

    async def simulation(self) -> httpx.Response:
        sim = self.rng.choice(self.catalogue)
        numeric = {k: p for k, p in sim["params_schema"]["properties"].items() if "minimum" in p}
        query = {}
        if numeric:
            name, prop = self.rng.choice(sorted(numeric.items()))
            value = self.rng.uniform(prop["minimum"], prop["maximum"])
            # Full precision: rounding a float could leave a log-scale field's range (lr's minimum is 1e-6).
            query[name] = str(round(value) if prop["type"] == "integer" else value)
        return await self.client.get(f"/api/simulations/{sim['name']}", params=query)

    async def stream(self) -> httpx.Response:
        async with self.client.stream("GET", f"/api/labs/runs/{self.run_id}/events") as response:
            async for _ in response.aiter_lines():
                pass  # the stream ends by itself after the run's last event
        return response

    async def answer(self) -> httpx.Response:
        chapter = self.rng.choice(COURSE.chapters)
        question = self.rng.choice(chapter.meta.quiz)
        return await self.client.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}",
                                      json={"option": self.rng.choice(question.options).id}, headers=self.headers())


async def visit(visitor: Visitor, deadline: float, think_s: float, samples: dict, failures: Counter) -> None:
    kinds = (("page", visitor.page), ("simulation", visitor.simulation), ("sse", visitor.stream),
             ("quiz", visitor.answer))
    while time.monotonic() < deadline:
        for kind, action in kinds:
            if think_s:
                await asyncio.sleep(visitor.rng.uniform(0, 2 * think_s))
            started = time.perf_counter()
            try:
                response = await action()
            except httpx.HTTPError as exc:
                failures[f"{kind}: {type(exc).__name__}"] += 1
                continue
            samples[kind].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures[f"{kind}: status {response.status_code}"] += 1


async def sample_memory(pid: int, started: float, deadline: float, memory: list, load: list, samples: dict) -> None:
    while True:
        served = sum(len(v) for v in samples.values())
        memory.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1), served))
        load.append(os.getloadavg()[0])
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(SAMPLE_EVERY_S, max(0.0, deadline - time.monotonic())))


async def soak(base: str, pid: int, users: int, duration: float, think_s: float) -> dict:
    async with httpx.AsyncClient(base_url=base) as client:
        catalogue = (await client.get("/api/simulations")).json()
    visitors = [Visitor(base, random.Random(n), catalogue) for n in range(users)]
    for visitor in visitors:
        await visitor.start()
    await asyncio.gather(*(visitor.wait_finished() for visitor in visitors))
    samples: dict[str, list[float]] = defaultdict(list)
    failures: Counter = Counter()
    memory: list[tuple[float, float, int]] = []
    load: list[float] = []
    started = time.monotonic()
    deadline = started + duration
    await asyncio.gather(sample_memory(pid, started, deadline, memory, load, samples),
                         *(visit(v, deadline, think_s, samples, failures) for v in visitors))
    elapsed = time.monotonic() - started
    for visitor in visitors:
        await visitor.client.aclose()
    return {
        "load_average_1min_during_run": {"min": round(min(load), 2), "mean": round(sum(load) / len(load), 2),
                                         "max": round(max(load), 2)},
        "requests": sum(len(v) for v in samples.values()),
        "throughput_rps": round(sum(len(v) for v in samples.values()) / elapsed, 1),
        "errors": sum(failures.values()),
        "failures": dict(failures),
        "latency_ms": {kind: {"count": len(v), "p50": round(percentile(v, 50), 1), "p99": round(percentile(v, 99), 1)}
                       for kind, v in sorted(samples.items())},
        "p99_ms_all": round(percentile([x for v in samples.values() for x in v], 99), 1),
        "rss_mb": {"start": memory[0][1], "end": memory[-1][1], "max": max(m for _, m, _ in memory),
                   "by_minute": {minute: memory[min(len(memory) - 1, round(minute * 60 / SAMPLE_EVERY_S))][1]
                                 for minute in range(int(duration // 60) + 1)},
                   **flatness(memory, duration)},
        "rss_samples": memory,  # (seconds, MB, requests served so far)
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=900, help="measured seconds (default 900: 15 minutes)")
    parser.add_argument("--users", type=int, default=6, help="concurrent visitors (default 6)")
    parser.add_argument("--think-ms", type=float, default=50, help="mean pause between a visitor's requests")
    parser.add_argument("--server-log", type=Path, help="append the server's output here (default: dropped)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        data = Path(scratch)
        (data / "models" / "tiny").mkdir(parents=True)
        (data / "models" / "tiny" / "config.json").write_text("{}")  # "built": its run fails fast, for real
        port = free_port()
        env = {**os.environ, "COURSE_DATA_DIR": str(data), "COURSE_LAB_ANONYMOUS_LAUNCHES_PER_IP": "10000/hour",
               "COURSE_LAB_RUNS_PER_HOUR": "10000", "COURSE_MAX_EVENT_STREAMS_PER_OWNER": "100",
               "COURSE_MAX_CONCURRENT_RUNS": str(args.users)}
        log = open(args.server_log, "ab") if args.server_log else subprocess.DEVNULL
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, server)
            result = asyncio.run(soak(base, server.pid, args.users, args.duration, args.think_ms / 1000))
        finally:
            server.terminate()
            server.wait(timeout=30)
            if args.server_log:
                log.close()

    result = {
        "benchmark": "soak: pages, simulations, SSE streams and quiz answers against one uvicorn worker",
        "command": " ".join([".venv/bin/python", "benchmarks/soak/soak.py", *sys.argv[1:]]),
        "duration_s": args.duration, "users": args.users, "think_ms": args.think_ms,
        "heap_probe": {k: v for k, v in os.environ.items() if k.startswith("SOAK_HEAP") or k == "PYTHONPATH"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        **result,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: result[k] for k in ("requests", "throughput_rps", "errors", "p99_ms_all",
                                      "load_average_1min_during_run")}
    print(json.dumps({**summary, "rss_mb": result["rss_mb"], "latency_ms": result["latency_ms"]}, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
