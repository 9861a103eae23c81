"""The Ray runner against a real local Ray head on 127.0.0.1 (token authentication on, set explicitly):
a short real training run is submitted through the Jobs API and succeeds, and a cancel stops a job."""

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labs.runners import make_runner


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """`ray start --head` on loopback with token auth; the client finds the token in RAY_AUTH_TOKEN."""
    ray = str(Path(sys.executable).with_name("ray"))
    token = secrets.token_hex(16)
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    dashboard = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    started = subprocess.run(
        [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={_free_port()}",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--num-cpus=2", "--num-gpus=0",
         "--disable-usage-stats", "--include-dashboard=true", f"--temp-dir={temp}"],
        capture_output=True, text=True, timeout=180,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                make_runner("ray", address).client.list_jobs()
                break
            except Exception:
                assert time.monotonic() < deadline, "the Ray dashboard did not come up"
                time.sleep(1)
        yield address
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_ended(runner, handle, run_dir, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = runner.state(handle, run_dir)
        if not state.running:
            return state
        time.sleep(1)
    raise AssertionError(f"the Ray job did not end within {timeout_s} s")


def test_a_short_training_run_submitted_to_ray_succeeds(ray_head, micro_base, lab_data_dir, tmp_path):
    runner = make_runner("ray", ray_head)
    run_dir = tmp_path / "ray-run"
    command = [sys.executable, "-m", "labs", "train", "--recipe", "legal-format", "--run-dir", str(run_dir),
               "--base", "micro", "--steps", "12", "--set", "eval.heldout=4", "--set", "eval.regression=2",
               "--set", "eval.side_by_side=1", "--set", "eval.max_new_tokens=40", "--quiet"]
    env = {"COURSE_DATA_DIR": str(lab_data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path.cwd())}
    handle = runner.start("ray1", command, str(run_dir), env, num_gpus=0)
    state = _wait_ended(runner, handle, str(run_dir), timeout_s=300)
    assert state.exit_code == 0, runner.client.get_job_logs(handle)[-3000:]
    last = (run_dir / "events.jsonl").read_text().splitlines()[-1]
    assert '"type": "done"' in last and (run_dir / "metrics.json").exists()


def test_cancelling_a_ray_job_stops_it(ray_head, tmp_path):
    runner = make_runner("ray", ray_head)
    handle = runner.start("ray2", [sys.executable, "-c", "import time; time.sleep(120)"], str(tmp_path), {}, 0)
    time.sleep(2)
    runner.cancel(handle, str(tmp_path))
    state = _wait_ended(runner, handle, str(tmp_path), timeout_s=60)
    assert state.exit_code != 0 and "STOPPED" in state.detail
