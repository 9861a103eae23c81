"""A copy of the course whose chapter 3 carries a known set of exercises, one of each kind.

The app and browser tests of the exercise UI use it, so they do not depend on what the chapters say.
"""

import shutil
from pathlib import Path

import yaml

from app.settings import PROJECT_ROOT
from tests.app.test_content_exercises import JSONL, NUMBER, TEXT

EXERCISE_CHAPTER = 3


def write_exercise_course(target: Path) -> Path:
    """Copy the chapters folder (figures and capstone included) to `target`; give chapter 3 the known
    exercises in place of whatever it has, and every other chapter none, so counts and "a chapter without
    exercises" do not change as the chapters gain their own."""
    shutil.copytree(PROJECT_ROOT / "chapters", target, dirs_exist_ok=True)
    known = yaml.safe_load("exercises:\n" + NUMBER + JSONL + TEXT)["exercises"]
    for path in sorted(target.glob("[0-9][0-9]-*.md")):
        _set_exercises(path, known if int(path.name[:2]) == EXERCISE_CHAPTER else [])
    return target


def _set_exercises(path: Path, exercises: list) -> None:
    head, body = path.read_text(encoding="utf-8")[4:].split("\n---\n", 1)
    front = yaml.safe_load(head)
    front["exercises"] = exercises
    path.write_text(f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n{body}", encoding="utf-8")
