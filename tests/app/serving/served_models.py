"""Fixtures for the /v1 tests that reach a model: a data dir with the `micro` base and one really trained
legal-format adapter (built by the lab engine's CLI in subprocesses, so pytest never imports torch), an app on it
served over a real socket, and helpers that give a copy of the trained run to a learner as their succeeded run.

Test modules import the fixtures they use from here.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.accounts import owned_learners
from app.db import migrate
from app.lab_runs import store
from app.main import create_app
from app.settings import Settings
from tests.clients import CourseClient
from tests.live_server import live_server

ROOT = Path(__file__).resolve().parents[3]
BASE = "micro"
# Short but real (as tests/labs/conftest.py): 80 steps at a high learning rate teach micro the legal format.
SHORT_RUN = ["steps=80", "warmup_steps=8", "lr=1.0e-2", "eval.heldout=8", "eval.regression=2",
             "eval.side_by_side=1", "eval.max_new_tokens=100"]


def _lab(data_dir: Path, *args: str) -> None:
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "labs", *args], capture_output=True, text=True, env=env,
                          timeout=1200, cwd=ROOT)
    assert done.returncode == 0, f"labs {' '.join(args)} failed:\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(data dir with the micro base, the run dir of one real QLoRA legal-format run on it)."""
    data_dir = tmp_path_factory.mktemp("openai-data")
    _lab(data_dir, "base", "build", "--name", BASE)
    run_dir = tmp_path_factory.mktemp("openai-run") / "legal"
    _lab(data_dir, "train", "--recipe", "legal-format", "--base", BASE, "--run-dir", str(run_dir), "--quiet",
         *[arg for field in SHORT_RUN for arg in ("--set", field)])
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    return data_dir, run_dir


@pytest.fixture(scope="module")
def served_app(trained):
    data_dir, _ = trained
    settings = Settings(data_dir=data_dir, lab_bases=BASE, serving_request_timeout_s=300)
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    yield app
    client = getattr(app.state, "model_client", None)
    if client is not None:
        client._stop()  # the lifespan's shutdown does this; the live server here runs without one


@pytest.fixture(scope="module")
def v1_url(served_app):
    with live_server(served_app) as url:
        yield url + "/v1"


def give_run(app, browser: CourseClient, run_dir: Path) -> str:
    """A copy of the trained run as this account's succeeded run, as the scheduler leaves one; its id."""
    run_id = uuid.uuid4().hex
    copy = app.state.settings.data_dir / "runs" / run_id
    shutil.copytree(run_dir, copy)
    learner = owned_learners(app.state.sessions, browser.user["id"])[0]
    store.create_run(app.state.sessions, run_id, learner, "legal-format", BASE, {}, copy, "local")
    store.finish(app.state.sessions, run_id, "succeeded", metrics=json.loads((copy / "metrics.json").read_text()))
    return run_id
