"""Compresses dynamic responses (pages, fragments, JSON) in the best encoding the client accepts: zstd,
then brotli, then gzip; a body sent again moments later is kept compressed from its second sending. Only a body
sent in one piece is compressed; a streamed one (server-sent events, file downloads) passes through untouched
and unbuffered, and so does anything already encoded (the precompressed static files, a chapter page its
handler finished in this client's encoding) or too small to gain.
"""

import gzip
import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

import brotli
import zstandard
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.admission import Doorkeeper

MIN_BYTES = 512  # below this the encoding's header costs about what it saves
# Compressed bodies kept, in bytes: a chapter page is ~25 kB compressed and unique to its learner (it carries
# their CSRF token), so a count bound (it was 512 bodies) let the cache grow with page sizes.
CACHED_BYTES = 4 * 1024 * 1024
COMPRESSIBLE = ("text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/json",
                "application/javascript", "image/svg+xml", "application/problem+json")
# Fast levels: this runs on every page view; the static files were compressed at the highest levels at set-up.
_PER_THREAD = threading.local()


def _zstd(body: bytes) -> bytes:
    # A compressor is reused (a fresh one allocates its tables anew each time), one per thread: chapter views
    # compress on threads of their own, and a ZstdCompressor shared between threads fails ("Src size is
    # incorrect") or crashes the process. zstandard returns its output in a buffer sized for the worst case
    # (about the input's size) and only shortens the length it reports: a 16 kB page held 43 kB, so caches held
    # 3-8× their budget. The copy is right-sized (and costs microseconds).
    compressor = getattr(_PER_THREAD, "zstd", None)
    if compressor is None:
        compressor = _PER_THREAD.zstd = zstandard.ZstdCompressor(level=3)
    return memoryview(compressor.compress(body)).tobytes()


_ENCODERS = {
    "zstd": _zstd,
    "br": lambda body: brotli.compress(body, quality=4),
    "gzip": lambda body: gzip.compress(body, compresslevel=5, mtime=0),
}


def compress(encoding: str, body: bytes) -> bytes:
    """`body` in `encoding` (one of zstd, br, gzip), at this module's per-request levels."""
    return _ENCODERS[encoding](body)


class _RecentlyCompressed:
    """Identical bodies are compressed once: the same page reloaded, the same JSON for everyone. Keyed by a
    digest of the exact bytes, so a cached answer is always the right one; the oldest entries go first."""

    def __init__(self, max_bytes: int = CACHED_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0  # the compressed bodies' lengths
        self._cache: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._admission = Doorkeeper()  # a body sent once (a simulation at random parameters) is not kept

    def compress(self, encoding: str, body: bytes) -> bytes:
        key = (encoding, hashlib.blake2b(body, digest_size=16).digest())
        found = self._cache.get(key)
        if found is None:
            found = _ENCODERS[encoding](body)
            if len(found) <= self.max_bytes and self._admission.seen_before(key):  # kept from its second sending
                self._cache[key] = found
                self.bytes += len(found)
                while self.bytes > self.max_bytes:
                    self.bytes -= len(self._cache.popitem(last=False)[1])
        else:
            self._cache.move_to_end(key)
        return found


def choose_encoding(accept_encoding: str) -> str | None:
    """The first of zstd, br, gzip that the Accept-Encoding header allows (q=0 refuses one)."""
    # A browser sends the same short header on every request: parsed once. Only short ones are remembered, so
    # the cache stays small (256 × ~100 characters) whatever a client sends.
    if len(accept_encoding) <= CACHED_HEADER_CHARS:
        return _cached_choice(accept_encoding)
    return _choose(accept_encoding)


def _choose(accept_encoding: str) -> str | None:
    offered = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        offered[name.strip()] = quality
    for encoding in _ENCODERS:
        if offered.get(encoding, offered.get("*", 0.0)) > 0:
            return encoding
    return None


CACHED_HEADER_CHARS = 100
_cached_choice = lru_cache(maxsize=256)(_choose)


class CompressionMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app
        self.recent = _RecentlyCompressed()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = choose_encoding(Headers(scope=scope).get("accept-encoding", ""))
        start: Message | None = None

        async def send_compressed(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                media = headers.get("content-type", "").split(";")[0].strip()
                if media not in COMPRESSIBLE or "content-encoding" in headers:
                    await send(message)  # event streams, downloads and precompressed files: as they come
                    return
                start = message
                return
            if start is None:  # a body of a response that passes through
                await send(message)
                return
            held, start = start, None
            headers = MutableHeaders(raw=held["headers"])
            if "accept-encoding" not in headers.get("vary", "").lower():
                headers.add_vary_header("Accept-Encoding")
            body = message.get("body", b"")
            if encoding and not message.get("more_body", False) and len(body) >= MIN_BYTES:
                body = self.recent.compress(encoding, body)
                headers["Content-Encoding"] = encoding
                headers["Content-Length"] = str(len(body))
                message = {**message, "body": body}
            await send(held)
            await send(message)

        await self.app(scope, receive, send_compressed)
