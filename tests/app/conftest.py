"""An app whose course carries a known set of exercises, for the exercise tests of the app.

The chapter files are copied and chapter 3 gets one exercise of each kind (the ones of
tests/app/test_content_exercises.py), so the tests do not depend on what the content says. The app
runs on SQLite, then on PostgreSQL: every test using it runs once on each.
"""

import shutil

import pytest
import yaml

from app.content import load_course
from app.db import migrate
from app.main import create_app
from app.settings import PROJECT_ROOT, Settings
from tests.app.test_content_exercises import JSONL, NUMBER, TEXT
from tests.clients import CourseClient, People
from tests.conftest import BACKENDS, _new_database

EXERCISE_CHAPTER = 3


@pytest.fixture(scope="session", params=BACKENDS)
def exercise_app(request, tmp_path_factory):
    chapters = tmp_path_factory.mktemp("chapters")
    for path in (PROJECT_ROOT / "chapters").glob("[0-9][0-9]-*.md"):
        text = path.read_text(encoding="utf-8")
        if path.name.startswith(f"{EXERCISE_CHAPTER:02d}-"):
            # Replace whatever exercises the chapter has with the known three.
            head, body = text[4:].split("\n---\n", 1)
            front = yaml.safe_load(head)
            front["exercises"] = yaml.safe_load("exercises:\n" + NUMBER + JSONL + TEXT)["exercises"]
            text = f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n{body}"
        (chapters / path.name).write_text(text, encoding="utf-8")
    url = _new_database(request.param, request, tmp_path_factory)
    migrate(url)
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("exercise-data"), database_url=url))
    app.state.course = load_course(chapters)
    yield app
    shutil.rmtree(chapters, ignore_errors=True)


@pytest.fixture
def exercise_client(exercise_app) -> CourseClient:
    with CourseClient(exercise_app) as test_client:
        yield test_client


@pytest.fixture
def exercise_chapter(exercise_app):
    return exercise_app.state.course.chapters[EXERCISE_CHAPTER]


@pytest.fixture
def exercise_people(exercise_app) -> People:
    return People(exercise_app)
