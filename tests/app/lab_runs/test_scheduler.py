"""The run queue with real subprocesses and real files: start, finish, limits, SIGKILL, cancel, restarts."""

import os
import signal
import time
from pathlib import Path

from app.lab_runs import store
from app.lab_runs.events import read_events
from app.lab_runs.scheduler import Scheduler
from labs.runners.local import LocalRunner
from tests.app.lab_runs.conftest import stand_in_command, wait_until

LEARNER = "00000000-0000-0000-0000-0000000000aa"


def _queue(settings, sessions, recipe="legal-format"):
    import uuid

    run_id = uuid.uuid4().hex
    return store.create_run(sessions, run_id, LEARNER, recipe, "tiny", {}, settings.data_dir / "runs" / run_id, "local")


def _status(sessions, run):
    return store.get_run(sessions, run.id, None).status


def test_a_queued_run_trains_to_done_and_keeps_its_metrics(lab_settings, lab_sessions):
    scheduler = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command(steps=4, delay_s=0.05))
    run = _queue(lab_settings, lab_sessions)
    assert scheduler.start()
    try:
        wait_until(lambda: _status(lab_sessions, run) == "succeeded")
    finally:
        scheduler.stop()
    finished = store.get_run(lab_sessions, run.id, None)
    assert '"compliance_after": 1.0' in finished.metrics
    assert [e["type"] for _, e in read_events(run.run_dir)][-1] == "done"


def test_runs_beyond_the_concurrency_limit_wait_in_order(lab_settings, lab_sessions):
    scheduler = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command(steps=5, delay_s=0.1))
    first, second = _queue(lab_settings, lab_sessions), _queue(lab_settings, lab_sessions)
    scheduler.tick()
    assert (_status(lab_sessions, first), _status(lab_sessions, second)) == ("running", "queued")
    wait_until(lambda: scheduler.tick() or _status(lab_sessions, second) == "running")
    assert _status(lab_sessions, first) == "succeeded"
    wait_until(lambda: scheduler.tick() or _status(lab_sessions, second) == "succeeded")


def test_a_training_process_killed_with_sigkill_fails_the_run_within_five_seconds(lab_settings, lab_sessions):
    scheduler = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command(steps=200, delay_s=0.1))
    run = _queue(lab_settings, lab_sessions)
    assert scheduler.start()
    try:
        handle = wait_until(lambda: store.get_run(lab_sessions, run.id, None).handle)
        wait_until(lambda: len(read_events(run.run_dir)) >= 3)
        os.kill(int(handle), signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: _status(lab_sessions, run) == "failed", timeout_s=5)
        assert time.monotonic() - killed_at < 5
    finally:
        scheduler.stop()
    failed = store.get_run(lab_sessions, run.id, None)
    assert "SIGKILL" in failed.reason
    last = read_events(run.run_dir)[-1][1]
    assert last["type"] == "error" and "SIGKILL" in last["message"]


def test_cancel_stops_the_whole_process_tree(lab_settings, lab_sessions, tmp_path):
    pid_file = tmp_path / "grandchild.pid"

    def command(run):  # a job that starts a child of its own, as a trainer's data loader might
        script = f"import subprocess,sys,time; p=subprocess.Popen(['sleep','60']); open(r'{pid_file}','w').write(str(p.pid)); time.sleep(60)"
        return ["python3", "-c", script]

    scheduler = Scheduler(lab_settings, lab_sessions, LocalRunner(), command)
    run = _queue(lab_settings, lab_sessions)
    scheduler.tick()
    handle = wait_until(lambda: store.get_run(lab_sessions, run.id, None).handle)
    grandchild = int(wait_until(lambda: pid_file.exists() and pid_file.read_text()))
    assert store.request_cancel(lab_sessions, run.id) == "running"
    scheduler.tick()
    assert _status(lab_sessions, run) == "cancelled"
    for pid in (int(handle), grandchild):
        assert not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()


def test_cancelling_a_queued_run_cancels_it_at_once(lab_settings, lab_sessions):
    run = _queue(lab_settings, lab_sessions)
    assert store.request_cancel(lab_sessions, run.id) == "cancelled"


def test_a_server_restart_interrupts_the_running_run_and_starts_the_queued_one(lab_settings, lab_sessions):
    command = stand_in_command(steps=100, delay_s=0.1)
    old_server = Scheduler(lab_settings, lab_sessions, LocalRunner(), command)
    running, queued = _queue(lab_settings, lab_sessions), _queue(lab_settings, lab_sessions)
    assert old_server.start()
    wait_until(lambda: store.get_run(lab_sessions, running.id, None).handle)
    old_server.stop()
    interrupted = store.get_run(lab_sessions, running.id, None)
    assert interrupted.status == "interrupted" and "server stopped" in interrupted.reason
    assert _status(lab_sessions, queued) == "queued"

    new_server = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command(steps=3, delay_s=0.05))
    assert new_server.start()
    try:
        wait_until(lambda: _status(lab_sessions, queued) == "succeeded")
    finally:
        new_server.stop()


def test_a_run_whose_process_is_gone_after_a_crash_becomes_interrupted_on_start(lab_settings, lab_sessions):
    run = _queue(lab_settings, lab_sessions)
    store.claim_next_queued(lab_sessions)
    store.set_handle(lab_sessions, run.id, "999999")  # a pid that no longer runs this job
    scheduler = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command())
    assert scheduler.start()
    scheduler.stop()
    recovered = store.get_run(lab_sessions, run.id, None)
    assert recovered.status == "interrupted" and "restarted" in recovered.reason
    assert read_events(run.run_dir)[-1][1]["type"] == "error"


def test_a_run_still_alive_after_a_crash_is_watched_again_until_it_finishes(lab_settings, lab_sessions):
    run = _queue(lab_settings, lab_sessions)
    store.claim_next_queued(lab_sessions)
    crashed_server_runner = LocalRunner()
    handle = crashed_server_runner.start(run.id, stand_in_command(steps=5, delay_s=0.1)(run), run.run_dir,
                                         dict(os.environ), 0)
    store.set_handle(lab_sessions, run.id, handle)
    new_server = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command())
    assert new_server.start()
    try:
        assert _status(lab_sessions, run) == "running"
        wait_until(lambda: _status(lab_sessions, run) == "succeeded")
    finally:
        new_server.stop()


def test_a_run_past_the_time_limit_is_stopped_and_failed_with_the_reason(lab_settings, lab_sessions):
    limited = lab_settings.model_copy(update={"lab_run_timeout_s": 1})
    scheduler = Scheduler(limited, lab_sessions, LocalRunner(), stand_in_command(steps=100, delay_s=0.1))
    run = _queue(limited, lab_sessions)
    assert scheduler.start()
    try:
        wait_until(lambda: _status(lab_sessions, run) == "failed", timeout_s=15)
    finally:
        scheduler.stop()
    assert "1 s time limit" in store.get_run(lab_sessions, run.id, None).reason


def test_only_one_scheduler_runs_per_data_dir(lab_settings, lab_sessions):
    first = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command())
    second = Scheduler(lab_settings, lab_sessions, LocalRunner(), stand_in_command())
    assert first.start()
    try:
        assert not second.start()
    finally:
        first.stop()


def _schedulers_running() -> int:
    import threading

    return sum(thread.name == "lab-run-scheduler" and thread.is_alive() for thread in threading.enumerate())


def test_an_app_served_to_two_clients_at_once_stops_its_scheduler_when_the_first_one_ends(lab_settings):
    # The second lifespan of the same app finds the data dir's scheduler taken; it must not lose the running one,
    # which then ticked on after the app ended (against a database gone by then: errors logged every tick).
    from app.db import migrate
    from app.main import create_app
    from tests.clients import CourseClient

    migrate(lab_settings.resolved_database_url)
    app = create_app(lab_settings)
    before = _schedulers_running()
    with CourseClient(app) as first:
        with CourseClient(app) as second:
            assert second.get("/healthz").json()["worker"]["runs_lab_scheduler"]  # the first one's, still known
        assert _schedulers_running() == before + 1  # the first client's lifespan still holds it
        assert first.get("/healthz").json()["worker"]["runs_lab_scheduler"]
    assert _schedulers_running() == before
