"""The local runner's warm process: lab commands are forked from a process that has imported the training stack,
yet each run is its own process, in its own session, that finishes, cancels and dies as a fresh one would.

Real processes throughout: one warm process per test module (it imports torch once, a few seconds), real `train`
runs on the micro base.
"""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from labs.events import read_events
from labs.runners.local import LocalRunner


def _wait(predicate, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def runner():
    runner = LocalRunner()
    yield runner
    runner.close()


def _train(runner, run_dir: Path, steps: int, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    env.pop("OMP_WAIT_POLICY", None)  # as the web server's environment: the warm process sets it only for itself
    command = [sys.executable, "-m", "labs", "train", "--recipe", "legal-format", "--base", "micro", "--quiet",
               "--run-dir", str(run_dir), "--set", f"steps={steps}", "--set", "warmup_steps=1",
               "--set", "eval.heldout=2", "--set", "eval.regression=1", "--set", "eval.max_new_tokens=8"]
    return runner.start("r", command, str(run_dir), env, 0.0)


def _loss_events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    return [e for e in read_events(path) if e["type"] == "loss"] if path.exists() else []


def test_a_lab_run_is_forked_warm_and_ends_with_done_and_exit_code_0(runner, micro_base, tmp_path):
    run_dir = tmp_path / "run"
    pid = int(_train(runner, run_dir, steps=3))
    assert runner._warm is not None and pid not in runner._children  # forked, not a fresh subprocess
    _wait(lambda: os.getpgid(pid) == pid, timeout=5)  # leads its own process group: a cancel reaches only the run
    states = []
    _wait(lambda: not states.append(runner.state(str(pid), str(run_dir))) and not states[-1].running)
    assert states[-1].exit_code == 0, (run_dir / "process.log").read_text()[-2000:]
    events = read_events(run_dir / "events.jsonl")
    assert events[-1]["type"] == "done" and len(_loss_events(run_dir)) == 3
    assert events[0]["elapsed_s"] < 5  # counted from the launch, not from when the warm process imported labs


def test_a_warm_run_cancelled_with_sigterm_writes_its_error_event(runner, micro_base, tmp_path):
    run_dir = tmp_path / "run"
    handle = _train(runner, run_dir, steps=5000)
    _wait(lambda: len(_loss_events(run_dir)) >= 1)
    runner.cancel(handle, str(run_dir))
    state = runner.state(handle, str(run_dir))
    assert not state.running
    assert read_events(run_dir / "events.jsonl")[-1] == {**read_events(run_dir / "events.jsonl")[-1],
                                                         "type": "error", "message": "the run was cancelled"}


def test_a_warm_run_killed_with_sigkill_is_reported_killed_not_gone(runner, micro_base, tmp_path):
    run_dir = tmp_path / "run"
    handle = _train(runner, run_dir, steps=5000)
    _wait(lambda: len(_loss_events(run_dir)) >= 1)
    assert runner.state(handle, str(run_dir)).running
    os.kill(int(handle), signal.SIGKILL)
    _wait(lambda: not runner.state(handle, str(run_dir)).running, timeout=10)
    assert runner.state(handle, str(run_dir)).detail == "the training process was killed (SIGKILL)"


def test_a_restarted_runner_recognises_a_warm_run_by_its_working_directory(runner, micro_base, tmp_path):
    run_dir = tmp_path / "run"
    handle = _train(runner, run_dir, steps=5000)
    _wait(lambda: len(_loss_events(run_dir)) >= 1)
    fresh = LocalRunner(warm=False)  # a server restarted after a crash knows only the stored pid
    assert fresh.state(handle, str(run_dir)).running
    assert not fresh.state(handle, str(tmp_path / "another-run")).running
    fresh.cancel(handle, str(run_dir))
    _wait(lambda: not runner.state(handle, str(run_dir)).running, timeout=10)


def test_a_run_whose_import_time_settings_differ_gets_a_fresh_process(runner, micro_base, tmp_path):
    run_dir = tmp_path / "run"
    pid = int(_train(runner, run_dir, steps=1, env_extra={"OMP_NUM_THREADS": "1"}))
    assert pid in runner._children  # the warm process read OpenMP's settings already: it refused
    states = []
    _wait(lambda: not states.append(runner.state(str(pid), str(run_dir))) and not states[-1].running)
    assert states[-1].exit_code == 0
