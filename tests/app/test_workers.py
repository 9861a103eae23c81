"""Several workers (`course serve --workers 2`), as real processes: exactly one runs the lab scheduler (a
file lock in the data dir), and rate-limit counters live in a shared Redis, so the limit holds for the
whole server rather than per worker."""

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


@pytest.fixture(scope="module")
def two_workers(redis_server, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("workers-data")
    port = _free_port()
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "COURSE_RATE_LIMIT_STORAGE": redis_server.url,
           "COURSE_AUTH_RATE_LIMIT_PER_IP": f"{LIMIT}/minute"}
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
        yield base, data_dir
    finally:
        server.terminate()
        server.wait(timeout=30)


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
