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
    exercises in place of whatever it has."""
    shutil.copytree(PROJECT_ROOT / "chapters", target, dirs_exist_ok=True)
    path = next(target.glob(f"{EXERCISE_CHAPTER:02d}-*.md"))
    head, body = path.read_text(encoding="utf-8")[4:].split("\n---\n", 1)
    front = yaml.safe_load(head)
    front["exercises"] = yaml.safe_load("exercises:\n" + NUMBER + JSONL + TEXT)["exercises"]
    path.write_text(f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n{body}", encoding="utf-8")
    return target
