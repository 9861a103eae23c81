"""The event writer: one JSON object per line, flushed as written, with the common fields on every event.

Pure Python; the events of a real run are checked in test_train.py.
"""

import json

import pytest

from labs.events import EventWriter, read_events


def test_each_event_is_one_flushed_json_line_with_the_common_fields(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventWriter(path, total_steps=10, start=0.0) as events:
        events.emit("progress", message="loading")
        events.emit("loss", 3, eta_s=7.04, loss=1.25)
        # readable before the writer closes: a tailing reader sees it at once
        lines = path.read_text().splitlines()
        assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["type"] == "progress" and first["step"] == 0 and first["eta_s"] is None
    assert second == {"type": "loss", "step": 3, "total_steps": 10, "elapsed_s": second["elapsed_s"],
                      "eta_s": 7.0, "loss": 1.25}


def test_unknown_types_are_refused_and_nan_becomes_null(tmp_path):
    with EventWriter(tmp_path / "e.jsonl", total_steps=1) as events:
        with pytest.raises(ValueError, match="event type should be one of"):
            events.emit("metrics")
        events.emit("loss", 1, loss=float("nan"), extra={"x": float("inf")})
    event = read_events(tmp_path / "e.jsonl")[0]
    assert event["loss"] is None and event["extra"] == {"x": None}


def test_the_writer_remembers_when_each_type_first_appeared(tmp_path):
    with EventWriter(tmp_path / "e.jsonl", total_steps=2) as events:
        events.emit("progress")
        events.emit("loss", 1, loss=1.0)
        events.emit("loss", 2, loss=0.5)
    assert set(events.first_elapsed) == {"progress", "loss"}
    assert events.first_elapsed["loss"] <= read_events(tmp_path / "e.jsonl")[-1]["elapsed_s"]
