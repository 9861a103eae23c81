"""The Ray runner against a real local Ray head on 127.0.0.1 (token authentication on, set explicitly):
a short real training run is submitted through the Jobs API and succeeds, and a cancel stops a job."""

import sys
import time
from pathlib import Path

import pytest

from labs.runners import make_runner
from tests.ray_head import local_ray_head


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A local head with the dashboard (the Jobs API lives there); clients find the token in RAY_AUTH_TOKEN."""
    with local_ray_head(tmp_path_factory.mktemp("ray"), num_cpus=2, dashboard=True) as head:
        deadline = time.monotonic() + 90
        while True:
            try:
                make_runner("ray", head.dashboard_address).client.list_jobs()
                break
            except Exception:
                assert time.monotonic() < deadline, "the Ray dashboard did not come up"
                time.sleep(1)
        yield head.dashboard_address


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
