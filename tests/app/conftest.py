"""An app whose course carries a known set of exercises (tests/exercise_course.py), for the exercise
tests of the app. It runs on SQLite, then on PostgreSQL: every test using it runs once on each.
"""

import pytest

from app.content import load_course
from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.clients import CourseClient, People
from tests.conftest import BACKENDS, _new_database
from tests.exercise_course import EXERCISE_CHAPTER, write_exercise_course


@pytest.fixture(scope="session", params=BACKENDS)
def exercise_app(request, tmp_path_factory):
    chapters = write_exercise_course(tmp_path_factory.mktemp("chapters"))
    url = _new_database(request.param, request, tmp_path_factory)
    migrate(url)
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("exercise-data"), database_url=url))
    app.state.course = load_course(chapters)
    return app


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
