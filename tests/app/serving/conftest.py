"""Shared fixtures for the serving tests: a data dir with the `micro` base, two really trained legal-format runs,
an app on that data dir, and a way to hand copies of those runs to a learner as their own succeeded runs.

The base and the runs are built once per test session by the lab engine's own CLI, in subprocesses as the web
service runs it (about a minute on two busy cores); the pytest process never imports torch. Tests get copies of the
runs, so one that deletes a run never takes it from another.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from app.db import migrate, transaction
from app.lab_runs.models import Run
from app.main import create_app
from app.models import Learner
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
BASE = "micro"
# Short but real: 80 steps at a high learning rate teach the micro base the legal format (tests/labs/conftest.py);
# a small evaluation keeps each run around half a minute. The two runs differ in seed and rank, as a learner's would.
SHORT_RUN = ["steps=80", "warmup_steps=8", "lr=1.0e-2", "eval.heldout=8", "eval.regression=2",
             "eval.side_by_side=1", "eval.max_new_tokens=100"]
TRAINED = {"legal-r8": ["seed=0", "lora.r=8"], "legal-r4": ["seed=1", "lora.r=4", "lora.alpha=8"]}


def lab_command(data_dir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """`python -m labs ARGS` in a subprocess with the data dir set and the hub off; fails the test on error."""
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "labs", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, f"labs {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="session")
def serving_data_dir(tmp_path_factory) -> Path:
    """A data dir whose only built base is `micro`."""
    data_dir = tmp_path_factory.mktemp("serving-data")
    lab_command(data_dir, "base", "build", "--name", BASE)
    return data_dir


@pytest.fixture(scope="session")
def trained_runs(serving_data_dir, tmp_path_factory) -> list[dict]:
    """Two real QLoRA runs of the legal-format recipe on `micro`: [{name, recipe, base, run_dir, metrics}]."""
    runs = []
    for name, settings in TRAINED.items():
        run_dir = tmp_path_factory.mktemp("trained") / name
        sets = [arg for field in SHORT_RUN + settings for arg in ("--set", field)]
        lab_command(serving_data_dir, "train", "--recipe", "legal-format", "--base", BASE, "--run-dir", str(run_dir),
                    "--quiet", *sets)
        assert (run_dir / "adapter" / "adapter_config.json").exists()
        runs.append({"name": name, "recipe": "legal-format", "base": BASE, "run_dir": run_dir,
                     "metrics": json.loads((run_dir / "metrics.json").read_text())})
    return runs


@pytest.fixture(scope="session")
def serving_settings(serving_data_dir) -> Settings:
    return Settings(data_dir=serving_data_dir, lab_bases=BASE, model_server_max_adapters=4,
                    serving_request_timeout_s=300)


@pytest.fixture(scope="session")
def serving_app(serving_settings):
    """An app on the serving data dir. Its model server starts on first use; the session stops it at the end."""
    migrate(serving_settings.resolved_database_url)
    app = create_app(serving_settings)
    yield app
    client = getattr(app.state, "model_client", None)
    if client is not None:
        client._stop()  # what the lifespan's shutdown does, for a session that ran none


def learner_id(client, app) -> str:
    """The learner behind a test client's cookie (minted by a first page view)."""
    if "learner" not in client.cookies:
        client.get("/healthz")
        client.get(app.state.course.chapters[0].url)
    return URLSafeSerializer(app.state.settings.secret_key, salt="learner-cookie").loads(client.cookies["learner"])


def give_runs(app, owner: str, trained: list[dict]) -> list[str]:
    """Copies of the trained runs as `owner`'s succeeded runs, in the app's runs folder; their new ids, in order."""
    ids = []
    for source in trained:
        run_id = uuid.uuid4().hex
        run_dir = app.state.settings.data_dir / "runs" / run_id
        shutil.copytree(source["run_dir"], run_dir)
        with transaction(app.state.sessions) as session:
            if session.get(Learner, owner) is None:
                session.add(Learner(id=owner))
                session.flush()
            session.add(Run(id=run_id, learner_id=owner, recipe=source["recipe"], base=source["base"],
                            overrides="{}", status="succeeded", run_dir=str(run_dir), runner="local",
                            cancel_requested=False, metrics=json.dumps(source["metrics"])))
        ids.append(run_id)
    return ids


def add_run_row(app, owner: str, status: str = "succeeded", base: str = BASE, with_adapter: bool = True) -> str:
    """A run row with an (empty) run folder, for tests of what is listed rather than what is served; its id."""
    run_id = uuid.uuid4().hex
    run_dir = app.state.settings.data_dir / "runs" / run_id
    (run_dir / "adapter" if with_adapter else run_dir).mkdir(parents=True)
    with transaction(app.state.sessions) as session:
        session.add(Run(id=run_id, learner_id=owner, recipe="legal-format", base=base, overrides="{}", status=status,
                        run_dir=str(run_dir), runner="local", cancel_requested=False))
    return run_id
