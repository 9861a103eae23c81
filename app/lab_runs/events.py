"""Relaying a run's `events.jsonl` as Server-Sent Events.

Each line of the file is one event; its line number is the SSE `id`. A client that reconnects with
`Last-Event-ID: N` gets line N+1 onwards, so nothing is missed and nothing repeats. The stream ends
after the run's `done` or `error` event (the scheduler appends an `error` when a process dies without one).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from labs.events import append_event as append_events_line
from labs.events import read_numbered_events

TERMINAL = ("done", "error")
POLL_S = 0.25
KEEPALIVE_S = 15.0


def read_events(run_dir: Path | str, after: int = 0) -> list[tuple[int, dict]]:
    """Complete events after line `after`, as (line number, event): the lab engine's own reader."""
    return read_numbered_events(Path(run_dir) / "events.jsonl", after)


def last_event(run_dir: Path | str) -> dict | None:
    events = read_events(run_dir)
    return events[-1][1] if events else None


def append_event(run_dir: Path | str, event: dict) -> None:
    """Add an event written by the service itself (a process that died cannot write its own `error`)."""
    append_events_line(Path(run_dir) / "events.jsonl", event)


def format_sse(number: int, event: dict) -> bytes:
    return f"id: {number}\nevent: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n".encode()


async def stream_events(run_dir: Path | str, after: int, poll_s: float = POLL_S) -> AsyncIterator[bytes]:
    """Yield SSE messages from line `after` on, following the file until a terminal event.

    A client that goes away cancels this generator (Starlette watches for the disconnect)."""
    position, idle = after, 0.0
    yield b"retry: 1000\n\n"
    while True:
        events = read_events(run_dir, position)
        for number, event in events:
            yield format_sse(number, event)
            position = number
            if event.get("type") in TERMINAL:
                return
        if events:
            idle = 0.0
        else:
            idle += poll_s
            if idle >= KEEPALIVE_S:
                idle = 0.0
                yield b": keep-alive\n\n"
        await asyncio.sleep(poll_s)
