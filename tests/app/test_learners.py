"""The learner cookie's reader: a signed cookie is verified once and remembered; what it remembers stays
small whatever a client sends."""

import gc
import random
import tracemalloc

from app.learners import LearnerCookieMiddleware, LearnerHolder


def _middleware() -> LearnerCookieMiddleware:
    return LearnerCookieMiddleware(app=None, secret_key="s" * 64, secure=False)


def _scope(cookie: str) -> dict:
    return {"type": "http", "headers": [(b"cookie", f"learner={cookie}".encode("latin-1"))]}


def test_a_cookie_the_server_signed_reads_as_its_learner_and_a_forged_one_as_none():
    middleware = _middleware()
    learner = LearnerHolder(None).get()
    signed = middleware.serializer.dumps(learner)
    assert middleware._read(_scope(signed)) == learner
    assert middleware._read(_scope(signed)) == learner  # from the cache this time
    assert middleware._read(_scope(signed[:-2] + "xx")) is None


def test_long_garbage_cookies_are_not_remembered():
    """Thousands of distinct 4 kB cookies would fill the verification cache with 64 MB a worker."""
    middleware = _middleware()
    rng = random.Random(3)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2_000):
            assert middleware._read(_scope(rng.randbytes(3_000).hex())) is None
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1_000_000, f"{held / 1e6:.1f} MB kept for 2,000 rejected cookies"
