"""Fixtures for sweeps: an app whose runs are a quick stand-in job that knows its number of examples."""

import json
import sys
from pathlib import Path

import pytest

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.app.lab_runs.conftest import wait_until
from tests.clients import CourseClient

STAND_IN = Path(__file__).with_name("stand_in_sweep_job.py")


def sweep_stand_in(run) -> list[str]:
    examples = json.loads(run.overrides).get("train_examples", 200)
    return [sys.executable, str(STAND_IN), run.run_dir, str(examples)]


@pytest.fixture(scope="module")
def sweep_app(tmp_path_factory):
    data = tmp_path_factory.mktemp("sweep-data")
    (data / "models" / "tiny").mkdir(parents=True)
    (data / "models" / "tiny" / "config.json").write_text("{}")  # "built": the stand-in never loads it
    settings = Settings(data_dir=data, lab_bases="tiny", lab_max_active_runs_per_owner=6, lab_runs_per_hour=12,
                        max_concurrent_runs=2)
    migrate(settings.resolved_database_url)
    return create_app(settings, run_command=sweep_stand_in)


@pytest.fixture
def learner(sweep_app):
    with CourseClient(sweep_app) as client:
        yield client


@pytest.fixture
def other_learner(sweep_app):
    with CourseClient(sweep_app) as client:
        yield client


def wait_for_sweep(client, sweep_id: str, timeout_s: float = 60) -> dict:
    def finished():
        body = client.get(f"/api/labs/sweeps/{sweep_id}").json()
        return body if not body["active"] else None

    return wait_until(finished, timeout_s=timeout_s)
