"""The event stream of a run: `events.jsonl`, one JSON object per line, flushed as it is written.

Types: progress | loss | eval | sample | done | error. Every event has `type`, `step`, `total_steps`, `elapsed_s`
and `eta_s` (null when unknown); the web service relays the lines as they are, read with `read_numbered_events`. Not the place for metrics.json.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

TYPES = ("progress", "loss", "eval", "sample", "done", "error")


def _clean(value):
    """JSON-safe: NaN and infinity become null (json.dumps would write invalid JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventWriter:
    """Appends events to `path`; `start` is the run's start (time.time()), so elapsed_s counts from there."""

    def __init__(self, path: Path, total_steps: int, start: float | None = None, echo=None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.total_steps = total_steps
        self.start = time.time() if start is None else start
        self.echo = echo  # optional callable(event) for the CLI's console output
        self.first_elapsed: dict[str, float] = {}  # type -> elapsed_s of its first event (time to first loss)
        self._file = open(self.path, "a", encoding="utf-8")

    def emit(self, type: str, step: int = 0, eta_s: float | None = None, **values) -> dict:
        if type not in TYPES:
            raise ValueError(f"event type should be one of {TYPES}, got {type!r}")
        event = {"type": type, "step": step, "total_steps": self.total_steps,
                 "elapsed_s": round(time.time() - self.start, 3),
                 "eta_s": None if eta_s is None else round(max(0.0, eta_s), 1), **values}
        event = _clean(event)
        self.first_elapsed.setdefault(type, event["elapsed_s"])
        self._file.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._file.flush()  # a reader tailing the file sees each event as it happens
        if self.echo is not None:
            self.echo(event)
        return event

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_numbered_events(path: Path, after: int = 0) -> list[tuple[int, dict]]:
    """Complete events after line `after`, as (line number, event). The one reader for the engine and the web app.

    A last line without its newline is still being written and is skipped; a reader tailing the file sees it whole
    next time. A missing file has no events yet.
    """
    path = Path(path)
    if not path.exists():
        return []
    events = []
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            if number <= after or not raw.endswith(b"\n"):
                continue
            try:
                events.append((number, json.loads(raw)))
            except json.JSONDecodeError:
                continue
    return events


def read_events(path: Path) -> list[dict]:
    return [event for _, event in read_numbered_events(path)]


def append_event(path: Path, event: dict) -> None:
    """Add one event written by someone other than the run (a watcher recording that the process died)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(_clean(event), ensure_ascii=False) + "\n")
