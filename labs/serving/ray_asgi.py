"""Bare ASGI for the Ray Serve deployment: read a request, answer JSON or NDJSON, nothing else.

labs/ imports no web framework (tests/test_boundaries.py), and Ray Serve takes any ASGI callable as its
ingress, so these few helpers stand in for one. Only what the model server's protocol needs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from labs.serving.requests import RequestError


class ClientGone(Exception):
    """The client went away before its request body arrived."""


def header(scope: dict, name: str) -> str:
    """The first value of header `name` (lower case), or ""."""
    key = name.encode()
    for k, v in scope.get("headers", []):
        if k.lower() == key:
            return v.decode("latin-1")
    return ""


def query(scope: dict, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


async def read_body(receive, limit: int) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise RequestError(f"the body is over {limit} bytes")
        more = message.get("more_body", False)
    return b"".join(chunks)


async def send_json(send, status: int, payload) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def send_ndjson(send, events: AsyncIterator[dict]) -> None:
    """200 application/x-ndjson, one line per event, each sent as soon as it is produced."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-store")]})
    async for event in events:
        await send({"type": "http.response.body", "body": (json.dumps(event) + "\n").encode(), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def lifespan(receive, send) -> None:
    """Nothing to start or stop at the ASGI level (the engine lives with the replica): acknowledge both."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
