"""Shared fixtures: settings on a temporary data dir, a migrated app, and a fresh client per test.

Each test gets its own TestClient and so its own learner cookie: tests share one database but
never each other's progress.
"""

import pytest
from fastapi.testclient import TestClient

from app.db import migrate
from app.main import create_app
from app.settings import Settings


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def app(settings):
    migrate(settings.resolved_database_url)
    return create_app(settings)


@pytest.fixture
def client(app) -> TestClient:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def course(app):
    return app.state.course
