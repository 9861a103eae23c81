"""Dynamic responses are compressed for clients that accept it; streams (SSE) pass through at once."""

import asyncio
import gc
import gzip
import random
import tracemalloc

import brotli
import pytest

from app.compression import CompressionMiddleware, choose_encoding


@pytest.mark.parametrize(("header", "chosen"), [
    ("gzip, deflate, br, zstd", "zstd"), ("gzip, deflate, br", "br"), ("gzip", "gzip"), ("", None),
    ("identity", None), ("br;q=0, gzip", "gzip"), ("*", "zstd"), ("zstd;q=0, *;q=0.5", "br"),
])
def test_the_encoding_is_the_best_one_the_client_accepts(header, chosen):
    assert choose_encoding(header) == chosen


def test_a_chapter_page_is_compressed_for_a_browser_and_plain_for_a_client_that_asks_for_nothing(client, course):
    url = course.chapters[0].url
    compressed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert compressed.headers["content-encoding"] == "br" and "Accept-Encoding" in compressed.headers["vary"]
    assert int(compressed.headers["content-length"]) < len(compressed.content) / 3
    gzipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip" and "<h1" in gzipped.text
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and int(plain.headers["content-length"]) == len(plain.content)


def test_json_is_compressed_too(client):
    response = client.get("/api/simulations", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip" and response.json()


async def _drive(app, accept_encoding: bytes, while_open=None) -> list[dict]:
    """Call `app` behind the middleware; `while_open(sent)` runs while the app is still sending."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", accept_encoding)]}
    task = asyncio.create_task(CompressionMiddleware(app)(scope, receive, send))
    if while_open:
        await while_open(sent)
    await task
    return sent


def test_an_event_stream_is_neither_compressed_nor_held_back():
    released = asyncio.Event()
    seen_while_open = []

    async def sse(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8")]})
        await send({"type": "http.response.body", "body": b"id: 1\ndata: {}\n\n" * 100, "more_body": True})
        await released.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def look(sent):
        await asyncio.sleep(0.05)
        seen_while_open.extend(sent)
        released.set()

    sent = asyncio.run(_drive(sse, b"gzip, br", look))
    assert len(seen_while_open) == 2  # headers and the first event went out while the stream was still open
    assert all(name != b"content-encoding" for name, _ in sent[0]["headers"])
    assert sent[1]["body"].startswith(b"id: 1")


def test_a_page_body_sent_in_one_piece_is_compressed_with_its_length_corrected():
    page = b"<p>" + b"the same words again " * 200 + b"</p>"

    async def html(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(page)).encode())]})
        await send({"type": "http.response.body", "body": page, "more_body": False})

    sent = asyncio.run(_drive(html, b"br"))
    headers = dict(sent[0]["headers"])
    assert headers[b"content-encoding"] == b"br" and headers[b"vary"] == b"Accept-Encoding"
    assert brotli.decompress(sent[1]["body"]) == page and int(headers[b"content-length"]) == len(sent[1]["body"])


def test_a_body_seen_before_is_served_from_the_cache_and_a_changed_one_is_compressed_afresh(monkeypatch):
    calls = []
    from app import compression

    monkeypatch.setitem(compression._ENCODERS, "gzip", lambda body: calls.append(body) or b"z" + body[:8])
    recent = compression._RecentlyCompressed(max_bytes=18)  # two of the fake 9-byte bodies
    one, two, three = b"page one" * 100, b"page two" * 100, b"page three" * 100
    recent.compress("gzip", one)  # sent once: compressed, not kept
    assert recent.compress("gzip", one) == recent.compress("gzip", one)  # kept from its second sending on
    for body in (two, two, three, three):  # three's second sending pushes page one out
        recent.compress("gzip", body)
    recent.compress("gzip", one)
    assert calls == [one, one, two, two, three, three, one]


def test_a_body_sent_once_is_compressed_but_not_kept():
    # Simulations at random parameters, each body new: keeping them replaced an entry on every request.
    from app import compression

    recent = compression._RecentlyCompressed(max_bytes=1_000_000)
    rng = random.Random(3)
    for _ in range(200):
        assert gzip.decompress(recent.compress("gzip", rng.randbytes(5_000) * 2))  # sent, correctly encoded
    assert recent.bytes == 0 and not recent._cache


def test_the_cache_of_compressed_bodies_holds_at_most_its_bytes_however_many_pages_pass():
    from app import compression

    recent = compression._RecentlyCompressed(max_bytes=200_000)
    rng = random.Random(7)
    for _ in range(300):  # ~30 kB pages that compress little, each unique like a page with its learner's token
        page = rng.randbytes(30_000)
        recent.compress("zstd", page)
        recent.compress("zstd", page)  # reloaded: kept from now on
    kept = list(recent._cache.values())
    assert recent.bytes == sum(len(body) for body in kept) <= 200_000
    assert len(kept) >= 5  # the newest pages are kept
    huge = rng.randbytes(300_000)
    recent.compress("zstd", huge)
    recent.compress("zstd", huge)  # bigger than the whole cache: sent, never kept
    assert recent.bytes <= 200_000


@pytest.mark.parametrize("encoding", ["zstd", "br", "gzip"])
def test_the_cache_of_compressed_bodies_occupies_no_more_memory_than_its_budget(encoding, course):
    """Measured, not counted: an encoder that hands back an oversized buffer would hold several times it."""
    from app import compression

    page = "".join(chapter.html for chapter in course.chapters).encode()[:60_000]  # compresses 3-4x
    budget = 1_000_000
    recent = compression._RecentlyCompressed(max_bytes=budget)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(300):  # each page unique, like a page with its learner's token, and reloaded once
            recent.compress(encoding, b"%d" % n + page)
            recent.compress(encoding, b"%d" % n + page)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(recent._cache) > 20
    assert held < 1.2 * budget, f"the cache holds {held / 1e6:.1f} MB for a {budget / 1e6:.1f} MB budget"


def test_zstd_from_many_threads_at_once_round_trips():
    """Chapter views compress on threads of their own: one zstd compressor shared between threads raised
    'Src size is incorrect' (a 500) and could take the server down; each thread must get its own."""
    import concurrent.futures
    import zstandard

    from app.compression import compress

    bodies = [(b"<p>chapter %d</p>" % i) * (200 + 37 * i) for i in range(64)]

    def round_trip(body: bytes) -> bool:
        return all(zstandard.ZstdDecompressor().decompress(compress("zstd", body)) == body for _ in range(20))

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(round_trip, bodies * 4))
