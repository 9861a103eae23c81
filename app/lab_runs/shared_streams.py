"""The cap on open event streams per owner, counted in Redis so it holds across every worker (`course serve
--workers N` with COURSE_RATE_LIMIT_STORAGE=redis://…). Each open stream holds a slot with a lease that a
thread renews while the stream lives; a killed worker stops renewing, so its slots free themselves.
"""

import queue
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator

import redis
from starlette.concurrency import run_in_threadpool

from app.lab_runs.events import StreamLimiter

LEASE_S = 30.0  # a killed worker's streams count this long at most; renewed every third of it

# One sorted set per owner: slot id → lease expiry (Redis's own clock, so workers' clocks may differ).
_OPEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 1)
end
return 1
"""


def _key(owner: str) -> str:
    return f"course:event-streams:{owner}"


class SharedStreamLimiter:
    """StreamLimiter's cap for the whole server. Slots are taken in the thread pool and renewed and given
    back by one thread, so the event loop never waits on Redis. While Redis cannot be reached, each worker
    counts its own streams (the cap per worker), rather than refusing every stream."""

    def __init__(self, url: str, per_owner: int, lease_s: float = LEASE_S):
        self.per_owner = per_owner
        self.lease_s = lease_s
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._open_slot = self._redis.register_script(_OPEN)
        self._renew_slot = self._redis.register_script(_RENEW)
        self._fallback = StreamLimiter(per_owner)
        self._held: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # stream → (owner, slot)
        self._lock = threading.Lock()
        self._released: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def open(self, owner: str, stream: AsyncIterator[bytes]) -> bool:
        slot = uuid.uuid4().hex
        try:
            taken = await run_in_threadpool(self._open_slot, keys=[_key(owner)],
                                            args=[self.per_owner, self.lease_s, slot])
        except redis.RedisError:
            return self._fallback.try_open(owner, stream)
        if not taken:
            return False
        with self._lock:
            self._held[stream] = (owner, slot)
            if self._thread is None:
                self._thread = threading.Thread(target=self._keep_leases, name="event-stream-leases", daemon=True)
                self._thread.start()
        return True

    def close(self, owner: str, stream: AsyncIterator[bytes]) -> None:
        with self._lock:
            held = self._held.pop(stream, None)
        if held is None:
            self._fallback.close(owner, stream)
        else:
            self._released.put(held)  # given back by the lease thread, off the event loop

    def _keep_leases(self) -> None:
        """Give slots back as their streams end; renew the rest every third of a lease. A stream whose
        response never started is dropped from `_held` when collected, so its lease simply runs out."""
        next_renewal = time.monotonic() + self.lease_s / 3
        while True:
            try:
                owner, slot = self._released.get(timeout=max(0.0, next_renewal - time.monotonic()))
                self._redis.zrem(_key(owner), slot)
            except queue.Empty:
                pass
            except redis.RedisError:
                pass  # Redis is away for a moment: the lease gives the slot back by itself
            if time.monotonic() >= next_renewal:
                with self._lock:
                    held = list(self._held.values())
                for owner, slot in held:
                    try:
                        self._renew_slot(keys=[_key(owner)], args=[self.lease_s, slot])
                    except redis.RedisError:
                        break  # renewed next round, or the slot lapses: the cap errs towards allowing
                next_renewal = time.monotonic() + self.lease_s / 3


def make_stream_limiter(storage_uri: str, per_owner: int) -> StreamLimiter | SharedStreamLimiter:
    """Counted in Redis when the rate limits are (a redis:// or rediss:// storage), else in this process."""
    if storage_uri.startswith(("redis://", "rediss://")):
        return SharedStreamLimiter(storage_uri, per_owner)
    return StreamLimiter(per_owner)
