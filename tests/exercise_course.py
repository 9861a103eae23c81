"""A copy of the course whose chapter 3 carries a known set of exercises, one of each kind.

The app and browser tests of the exercise UI use it, so they do not depend on what the chapters say.
"""

from pathlib import Path

import yaml

from app.settings import PROJECT_ROOT
from tests.app.test_content_exercises import JSONL, NUMBER, TEXT

EXERCISE_CHAPTER = 3


def write_exercise_course(target: Path) -> Path:
    """Copy every chapter file (and the capstone) into `target`, chapter 3 with the known exercises."""
    target.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "chapters").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        if path.name.startswith(f"{EXERCISE_CHAPTER:02d}-"):
            # Replace whatever exercises the chapter has with the known three.
            head, body = text[4:].split("\n---\n", 1)
            front = yaml.safe_load(head)
            front["exercises"] = yaml.safe_load("exercises:\n" + NUMBER + JSONL + TEXT)["exercises"]
            text = f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n{body}"
        (target / path.name).write_text(text, encoding="utf-8")
    return target
