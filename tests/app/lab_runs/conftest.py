"""Fixtures for the lab-run service: a migrated database, a stand-in job command, and helpers to wait."""

import sys
import time
from pathlib import Path

import pytest

from app.db import create_db_engine, make_session_factory, migrate
from app.settings import Settings

STAND_IN = Path(__file__).with_name("stand_in_job.py")


def stand_in_command(steps: int = 6, delay_s: float = 0.2):
    """A `run_command` that runs the stand-in job instead of the real trainer."""

    def command(run) -> list[str]:
        return [sys.executable, str(STAND_IN), run.run_dir, str(steps), str(delay_s)]

    return command


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture
def lab_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_concurrent_runs=1, lab_run_timeout_s=120)


@pytest.fixture
def lab_sessions(lab_settings):
    lab_settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(lab_settings.resolved_database_url)
    return make_session_factory(create_db_engine(lab_settings.resolved_database_url))
