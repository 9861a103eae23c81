"""Relaying a run's `events.jsonl` as Server-Sent Events.

Each line of the file is one event; its line number is the SSE `id`. A client that reconnects with
`Last-Event-ID: N` gets line N+1 onwards, so nothing is missed and nothing repeats. The stream ends
after the run's `done` or `error` event (the scheduler appends an `error` when a process dies without one).
"""

import asyncio
import json
import re
import weakref
from collections.abc import AsyncIterator, Callable
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


def public_event(event: dict, run_dir: Path | str) -> dict:
    """The event as a browser may see it: a file path the job wrote is given relative to the run
    directory (or by its name alone), never as a path on the server."""
    root = Path(run_dir)
    shown = {}
    for key, value in event.items():
        if isinstance(value, str) and value.startswith("/"):
            path = Path(value)
            value = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        shown[key] = value
    return shown


def format_sse(number: int, event: dict) -> bytes:
    return f"id: {number}\nevent: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n".encode()


def parse_event_number(text: str) -> int:
    """A `Last-Event-ID` or `?after=` value: ASCII digits only (int() would take other scripts' digits),
    and short enough to be a line number."""
    if not re.fullmatch(r"[0-9]{1,12}", text):
        raise ValueError(f"expected an event number (0 to 999999999999), got {text[:40]!r}")
    return int(text)


class StreamLimiter:
    """Counts the event streams each owner holds open in this process, so one client cannot hold
    thousands of polling connections. Streams are held weakly: one whose response never started
    (the client left at once, so its `finally` never ran) stops counting once it is collected."""

    def __init__(self, per_owner: int):
        self.per_owner = per_owner
        self._open: dict[str, weakref.WeakSet] = {}

    async def open(self, owner: str, stream: AsyncIterator[bytes]) -> bool:
        """As `try_open`; async like `SharedStreamLimiter.open` (app.lab_runs.shared_streams)."""
        return self.try_open(owner, stream)

    def try_open(self, owner: str, stream: AsyncIterator[bytes]) -> bool:
        streams = self._open.setdefault(owner, weakref.WeakSet())
        if len(streams) >= self.per_owner:
            return False
        streams.add(stream)
        return True

    def close(self, owner: str, stream: AsyncIterator[bytes]) -> None:
        streams = self._open.get(owner)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._open[owner]


async def stream_events(run_dir: Path | str, after: int, poll_s: float = POLL_S,
                        on_close: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
    """Yield SSE messages from line `after` on, following the file until a terminal event; a stream
    resumed at or past a run's terminal event ends at once. `on_close` runs however the stream ends.

    A client that goes away cancels this generator (Starlette watches for the disconnect)."""
    position, idle = after, 0.0
    try:
        yield b"retry: 1000\n\n"
        while True:
            events = read_events(run_dir)
            new = [(number, event) for number, event in events if number > position]
            for number, event in new:
                yield format_sse(number, public_event(event, run_dir))
                position = number
                if event.get("type") in TERMINAL:
                    return
            if any(event.get("type") in TERMINAL for _, event in events):
                return  # the client already had the end (it resumed past it)
            if new:
                idle = 0.0
            else:
                idle += poll_s
                if idle >= KEEPALIVE_S:
                    idle = 0.0
                    yield b": keep-alive\n\n"
            await asyncio.sleep(poll_s)
    finally:
        if on_close is not None:
            on_close()
