"""Compresses dynamic responses (pages, fragments, JSON) in the best encoding the client accepts: zstd,
then brotli, then gzip. Only a body sent in one piece is compressed; a streamed one (server-sent events,
file downloads) passes through untouched and unbuffered, and so does anything already encoded (the
precompressed static files) or too small to gain.
"""

import gzip

import brotli
import zstandard
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIN_BYTES = 512  # below this the encoding's header costs about what it saves
COMPRESSIBLE = ("text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/json",
                "application/javascript", "image/svg+xml", "application/problem+json")
# Fast levels: this runs on every page view; the static files were compressed at the highest levels at set-up.
_ENCODERS = {
    "zstd": lambda body: zstandard.ZstdCompressor(level=3).compress(body),
    "br": lambda body: brotli.compress(body, quality=4),
    "gzip": lambda body: gzip.compress(body, compresslevel=5, mtime=0),
}


def choose_encoding(accept_encoding: str) -> str | None:
    """The first of zstd, br, gzip that the Accept-Encoding header allows (q=0 refuses one)."""
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


class CompressionMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

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
                body = _ENCODERS[encoding](body)
                headers["Content-Encoding"] = encoding
                headers["Content-Length"] = str(len(body))
                message = {**message, "body": body}
            await send(held)
            await send(message)

        await self.app(scope, receive, send_compressed)
