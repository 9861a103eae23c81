"""Several workers (`course serve --workers 2`), as real processes: exactly one runs the lab scheduler (a
file lock in the data dir), and rate-limit counters live in a shared Redis, so the limit holds for the
whole server rather than per worker."""

import contextlib
import fcntl
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import redis

from tests.postgres_server import _free_port
from tests.redis_server import INSTALL_HINT, TemporaryRedis

LIMIT = 4


@pytest.fixture(scope="module")
def redis_server():
    try:
        with TemporaryRedis() as server:
            yield server
    except RuntimeError as exc:
        if INSTALL_HINT in str(exc):
            pytest.fail(INSTALL_HINT)
        raise


@contextlib.contextmanager
def _serve_two_workers(redis_url: str, data_dir, **settings: str):
    """`course serve --workers 2` on a free port with rate limits in Redis; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "COURSE_RATE_LIMIT_STORAGE": redis_url,
           **{f"COURSE_{name.upper()}": value for name, value in settings.items()}}
    env.pop("COURSE_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def two_workers(redis_server, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("workers-data")
    with _serve_two_workers(redis_server.url, data_dir, auth_rate_limit_per_ip=f"{LIMIT}/minute") as base:
        yield base, data_dir


def _workers_seen(base: str) -> dict[int, bool]:
    """pid → runs the scheduler, from /healthz on fresh connections until both workers have answered."""
    seen: dict[int, bool] = {}
    for _ in range(400):
        worker = httpx.get(f"{base}/healthz", timeout=5).json()["worker"]
        seen[worker["pid"]] = worker["runs_lab_scheduler"]
        if len(seen) == 2:
            break
    return seen


def test_exactly_one_of_two_workers_runs_the_lab_scheduler_and_holds_its_lock(two_workers):
    base, data_dir = two_workers
    seen = _workers_seen(base)
    assert len(seen) == 2, f"only these workers answered: {seen}"
    assert sorted(seen.values()) == [False, True]
    with open(data_dir / "scheduler.lock", "w") as lock, pytest.raises(BlockingIOError):
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_the_login_limit_counts_attempts_across_workers_in_redis(two_workers, redis_server):
    base, _ = two_workers
    assert len(_workers_seen(base)) == 2  # both workers are up, so attempts on fresh connections reach both
    statuses = []
    for _ in range(2 * LIMIT):
        with httpx.Client(base_url=base, timeout=10) as browser:  # a new connection per attempt
            browser.get("/healthz")
            response = browser.post(
                "/api/auth/login", json={"email": f"{uuid.uuid4().hex[:10]}@example.org", "password": "not the password"},
                headers={"x-csrftoken": browser.cookies["csrftoken"]},
            )
            statuses.append(response.status_code)
    # With per-worker counters, two workers would let up to twice the limit through.
    assert statuses[:LIMIT] == [401] * LIMIT and statuses[LIMIT:] == [429] * LIMIT, statuses
    assert redis.Redis.from_url(redis_server.url).keys("*login*")


def test_the_event_stream_cap_counts_one_owners_streams_across_workers_in_redis(redis_server, tmp_path):
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")  # a base that looks built
    with open(tmp_path / "scheduler.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no worker runs the scheduler: the run stays queued
        with _serve_two_workers(redis_server.url, tmp_path, max_event_streams_per_owner="2") as base, \
                httpx.Client(base_url=base, timeout=30) as browser:
            assert len(_workers_seen(base)) == 2
            browser.get("/healthz")
            launched = browser.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny"},
                                    headers={"x-csrftoken": browser.cookies["csrftoken"]})
            assert launched.status_code == 201, launched.text
            events = f"/api/labs/runs/{launched.json()['id']}/events"
            with browser.stream("GET", events) as first, browser.stream("GET", events) as second:
                statuses = [first.status_code, second.status_code]
                for _ in range(6):  # fresh connections, so both workers are asked
                    with httpx.Client(base_url=base, cookies=browser.cookies, timeout=30) as same_browser:
                        statuses.append(same_browser.get(events).status_code)
                slots = redis.Redis.from_url(redis_server.url).keys("course:event-streams:*")
            # With per-worker counts, the worker not holding both streams would let two more through.
            assert statuses == [200, 200] + [429] * 6, statuses
            assert len(slots) == 1
            reopened = []
            for _ in range(100):  # the closed streams' slots are given back within moments
                with browser.stream("GET", events) as again:
                    reopened.append(again.status_code)
                if reopened[-1] == 200:
                    break
                time.sleep(0.1)
            assert reopened[-1] == 200
