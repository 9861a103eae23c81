"""Shared fixtures: settings on a temporary data dir, a migrated app, and a fresh client per test.

Each test gets its own client and so its own learner cookie and client address: tests share one
database but never each other's progress or rate-limit budget. Clients send the CSRF header like
htmx does (see tests/clients.py). Database and cohort tests that must hold on both backends use the
`backend_*` fixtures, parametrized over SQLite and a real PostgreSQL started for the session.
"""

import uuid

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app import passwords
from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.clients import CourseClient, People
from tests.postgres_server import INSTALL_HINT, TemporaryPostgres, postgres_bin_dir

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    """argon2id still, but with 1 MiB and one pass: hashing is the slowest thing an account test does.
    The production parameters are checked in tests/app/test_passwords.py."""
    saved = passwords._hasher
    passwords._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    yield
    passwords._hasher = saved


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def app(settings):
    migrate(settings.resolved_database_url)
    return create_app(settings)


@pytest.fixture(scope="session")
def https_app(tmp_path_factory):
    """An app whose public address is https, so its cookies are Secure."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("https-data"), base_url="https://course.example")
    migrate(settings.resolved_database_url)
    return create_app(settings)


@pytest.fixture
def client(app) -> CourseClient:
    with CourseClient(app) as test_client:
        yield test_client


@pytest.fixture
def people(app) -> People:
    return People(app)


@pytest.fixture(scope="session")
def course(app):
    return app.state.course


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL on 127.0.0.1 in a temporary data dir, for the whole session."""
    if postgres_bin_dir() is None:
        pytest.fail(INSTALL_HINT)
    with TemporaryPostgres() as server:
        yield server


def _new_database(backend: str, request, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'course.db'}"
    return request.getfixturevalue("postgres").create_database(f"course_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path_factory) -> str:
    """A new, empty (unmigrated) database on each backend."""
    return _new_database(request.param, request, tmp_path_factory)


@pytest.fixture(scope="session", params=BACKENDS)
def backend_app(request, tmp_path_factory):
    """A migrated app on SQLite, then on PostgreSQL; tests using it run once on each."""
    url = _new_database(request.param, request, tmp_path_factory)
    migrate(url)
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("backend-data"), database_url=url))


@pytest.fixture
def backend_client(backend_app) -> CourseClient:
    return CourseClient(backend_app)


@pytest.fixture
def backend_people(backend_app) -> People:
    return People(backend_app)
