"""The event-stream cap counted in a real Redis: one count for every worker, a slot given back when its
stream ends, renewed while it lives, and freed by its lease when its worker dies without giving it back."""

import asyncio
import gc
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.lab_runs.events import StreamLimiter, stream_events
from app.lab_runs.shared_streams import SharedStreamLimiter, make_stream_limiter
from tests.redis_server import INSTALL_HINT, TemporaryRedis


@pytest.fixture(scope="module")
def redis_url():
    try:
        with TemporaryRedis() as server:
            yield server.url
    except RuntimeError as exc:
        if INSTALL_HINT in str(exc):
            pytest.fail(INSTALL_HINT)
        raise


def _opens(limiter, owner, stream) -> bool:
    return asyncio.run(limiter.open(owner, stream))


def _wait_until(check, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_two_workers_share_one_count_and_a_closed_stream_gives_its_slot_back(redis_url, tmp_path):
    first, second = SharedStreamLimiter(redis_url, per_owner=2), SharedStreamLimiter(redis_url, per_owner=2)
    a, b, c = (stream_events(tmp_path, 0) for _ in range(3))
    assert _opens(first, "learner-1", a) and _opens(second, "learner-1", b)
    assert not _opens(first, "learner-1", c) and not _opens(second, "learner-1", c)
    assert _opens(second, "learner-2", c)  # another owner has slots of its own
    first.close("learner-1", a)
    assert _wait_until(lambda: _opens(second, "learner-1", stream_events(tmp_path, 0)))


def test_a_long_stream_keeps_its_slot_past_one_lease(redis_url, tmp_path):
    limiter = SharedStreamLimiter(redis_url, per_owner=1, lease_s=0.6)
    held = stream_events(tmp_path, 0)
    assert _opens(limiter, "long", held)
    time.sleep(1.5)  # two and a half leases, renewed every 0.2 s
    assert not _opens(SharedStreamLimiter(redis_url, per_owner=1), "long", stream_events(tmp_path, 0))


WORKER = """
import asyncio, sys, time
from app.lab_runs.events import stream_events
from app.lab_runs.shared_streams import SharedStreamLimiter
limiter = SharedStreamLimiter(sys.argv[1], per_owner=1, lease_s=0.6)
stream = stream_events(sys.argv[2], 0)
print(asyncio.run(limiter.open("orphaned", stream)), flush=True)
time.sleep(600)
"""


def test_a_killed_workers_slot_is_renewed_while_it_lives_and_frees_itself_once_it_is_killed(redis_url, tmp_path):
    worker = subprocess.Popen([sys.executable, "-c", WORKER, redis_url, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[3])
    try:
        assert worker.stdout.readline().strip() == "True"
        alive = SharedStreamLimiter(redis_url, per_owner=1)
        time.sleep(1.5)  # past two leases: the worker's thread has renewed its slot
        assert not _opens(alive, "orphaned", stream_events(tmp_path, 0))
    finally:
        worker.send_signal(signal.SIGKILL)  # no `finally`, no close(): only the lease ends it
        worker.wait(timeout=10)
    assert _wait_until(lambda: _opens(alive, "orphaned", stream_events(tmp_path, 0)), timeout_s=3)


def test_a_stream_whose_response_never_started_stops_being_renewed(redis_url, tmp_path):
    limiter = SharedStreamLimiter(redis_url, per_owner=1, lease_s=0.5)
    abandoned = stream_events(tmp_path, 0)
    assert _opens(limiter, "left-at-once", abandoned)
    del abandoned  # its `finally` never runs, so close() is never called
    gc.collect()
    assert _wait_until(lambda: _opens(limiter, "left-at-once", stream_events(tmp_path, 0)), timeout_s=3)


def test_without_redis_each_worker_counts_its_own_streams(tmp_path):
    unreachable = SharedStreamLimiter("redis://127.0.0.1:1", per_owner=1)
    kept = stream_events(tmp_path, 0)
    assert _opens(unreachable, "offline", kept)
    assert not _opens(unreachable, "offline", stream_events(tmp_path, 0))


def test_the_limiter_is_shared_only_when_the_rate_limits_are_in_redis(redis_url):
    assert isinstance(make_stream_limiter(redis_url, 3), SharedStreamLimiter)
    assert isinstance(make_stream_limiter("memory://", 3), StreamLimiter)
