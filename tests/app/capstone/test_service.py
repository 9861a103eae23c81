"""What the capstone detects from lab runs, and the capstone file's own rules."""

import json

import pytest

from app.capstone.service import detected_evidence
from app.content import ContentError, load_capstone
from app.settings import PROJECT_ROOT


def test_one_plain_succeeded_run_counts_as_a_run_and_nothing_more():
    assert detected_evidence([("{}", None, None)]) == {"run-succeeded"}


def test_a_run_on_an_uploaded_dataset_with_compliance_after_counts_for_data_and_evaluation():
    found = detected_evidence([('{"dataset": "mine.jsonl"}', "mine.jsonl", json.dumps({"compliance_after": 0.9}))])
    assert found == {"run-succeeded", "own-data-run", "run-evaluated"}


def test_two_runs_count_as_compared_only_when_their_settings_differ():
    same = detected_evidence([('{"learning_rate": 0.0002}', None, None)] * 2)
    assert "runs-compared" not in same
    differ = detected_evidence([('{"learning_rate": 0.0002}', None, None), ('{"learning_rate": 0.001}', None, None)])
    assert "runs-compared" in differ
    only_data = detected_evidence([('{"dataset": "a.jsonl"}', "a.jsonl", None), ('{"dataset": "b.jsonl"}', "b.jsonl", None)])
    assert "runs-compared" not in only_data, "another dataset is not a sweep of a setting"


def test_metrics_without_compliance_after_do_not_count_as_evaluated():
    assert "run-evaluated" not in detected_evidence([("{}", None, json.dumps({"compliance_after": None}))])


def test_the_course_capstone_has_stages_for_every_step_the_issue_names_and_detectors():
    capstone = load_capstone(PROJECT_ROOT / "chapters" / "capstone.md")
    assert [s.id for s in capstone.meta.stages] == ["task", "data", "sweep", "evaluation", "serving", "break-even"]
    assert {i.detect for i in capstone.meta.items} >= {"run-succeeded", "own-data-run", "runs-compared", "run-evaluated"}
    assert set(capstone.stage_anchors) == {s.id for s in capstone.meta.stages}
    assert len(capstone.html.split()) >= 900, "a text that teaches, not a bare list"


def _write(tmp_path, text):
    path = tmp_path / "capstone.md"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """---
title: My capstone
promise: You will do the whole thing yourself.
stages:
  - id: task
    title: Pick a task
    items:
      - id: task-written
        text: I wrote the task down.
---
## Pick a task

Text.
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("## Pick a task", "## Another heading"), "each stage needs a '## Pick a task' section"),
        (GOOD.replace("        text: I wrote the task down.", "        text: I wrote it.\n        detect: telepathy"), "detect: Input should be"),
        (GOOD.replace("    items:\n", "    items:\n      - id: task-written\n        text: The same id once more.\n"), "item id 'task-written' is used twice"),
    ],
)
def test_a_broken_capstone_file_is_refused_naming_the_rule(tmp_path, text, message):
    with pytest.raises(ContentError) as caught:
        load_capstone(_write(tmp_path, text))
    assert str(caught.value).startswith("capstone.md: ") and message in str(caught.value)


def test_a_well_formed_capstone_file_loads(tmp_path):
    assert load_capstone(_write(tmp_path, GOOD)).stage_anchors == {"task": "pick-a-task"}
