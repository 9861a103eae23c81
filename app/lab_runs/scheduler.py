"""The run queue's worker: starts queued runs up to the concurrency limit, watches running ones,
enforces the wall-clock limit, and records how each ended.

The queue is the database, so a restart loses nothing. One scheduler runs per data dir (a file lock
decides which web worker it is); on start it settles runs left `running` by a previous server: still
alive → watched again; gone → `interrupted`, with the reason.
"""

import fcntl
import json
import logging
import sys
import threading
from datetime import UTC
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.lab_runs import store
from app.lab_runs.events import TERMINAL, append_event, last_event
from app.lab_runs.models import Run
from app.models import utcnow
from app.settings import Settings
from labs.job_env import job_environment
from labs.runners import Runner

log = logging.getLogger("course.labs")
TICK_S = 0.5


def training_command(run: Run) -> list[str]:
    """The job's command line: the lab engine's CLI with the learner's overrides as `--set` fields."""
    command = [sys.executable, "-m", "labs", "train", "--recipe", run.recipe, "--run-dir", run.run_dir,
               "--base", run.base, "--quiet"]
    for field, value in sorted(json.loads(run.overrides).items()):
        command += ["--set", f"{field}={value}"]
    return command


class Scheduler:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], runner: Runner, command_for=training_command):
        self.settings = settings
        self.sessions = sessions
        self.runner = runner
        self.command_for = command_for  # tests swap in a short stand-in job
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file = None

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Take the data dir's scheduler lock and start the loop; False when another worker has it."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.settings.data_dir / "scheduler.lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            return False
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="lab-run-scheduler", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop the loop. Local runs die with the server, so they are stopped and marked `interrupted` now."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self.runner.name == "local" and self._lock_file:
            for run in store.runs_with_status(self.sessions, "running"):
                if run.handle:
                    self.runner.cancel(run.handle, run.run_dir)
                self._settle(run, "interrupted", "The server stopped while this run was training; launch it again.")
        if self._lock_file:
            self._lock_file.close()
        self.runner.close()  # the local runner's warm process, if it started one

    def _loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # keep the queue alive; the next tick retries
                log.exception("lab scheduler tick failed")

    # -- one pass ---------------------------------------------------------------------------------
    def recover(self) -> None:
        for run in store.runs_with_status(self.sessions, "running"):
            if not run.handle or not self.runner.state(run.handle, run.run_dir).running:
                self._settle(run, "interrupted", "The server restarted and this run's process was gone; launch it again.")

    def tick(self) -> None:
        running = store.runs_with_status(self.sessions, "running")
        for run in running:
            self._watch(run)
        active = len(store.runs_with_status(self.sessions, "running"))
        while active < self.settings.max_concurrent_runs:
            run = store.claim_next_queued(self.sessions)
            if run is None:
                break
            self._launch(run)
            active += 1

    def _launch(self, run: Run) -> None:
        try:
            handle = self.runner.start(
                run.id, self.command_for(run), run.run_dir, job_environment(self.settings.data_dir), self._gpus(run)
            )
        except Exception as exc:
            log.exception("could not start run %s", run.id)
            self._settle(run, "failed", f"The run could not be started: {exc}")
            return
        store.set_handle(self.sessions, run.id, handle)

    def _gpus(self, run: Run) -> float:
        return self.settings.lab_gpus_per_run if self.settings.runner == "ray" else 0.0

    def _watch(self, run: Run) -> None:
        if not run.handle:
            return
        if run.cancel_requested:
            self.runner.cancel(run.handle, run.run_dir)
            self._settle(run, "cancelled", "Cancelled by you.")
            return
        started = run.started_at.replace(tzinfo=run.started_at.tzinfo or UTC)
        if (utcnow() - started).total_seconds() > self.settings.lab_run_timeout_s:
            self.runner.cancel(run.handle, run.run_dir)
            self._settle(run, "failed", f"Stopped after the {self.settings.lab_run_timeout_s} s time limit per run.")
            return
        state = self.runner.state(run.handle, run.run_dir)
        if not state.running:
            reason = f"The run ended without finishing: {state.detail or 'no reason given'}."
            self._settle(run, "failed", reason, job_reason_wins=True)

    def _settle(self, run: Run, status_if_unfinished: str, reason: str, job_reason_wins: bool = False) -> None:
        """Record how a run ended: a `done` from the job wins; otherwise `status_if_unfinished`, with the
        job's own error message when it ended by itself (`job_reason_wins`), else the service's `reason`."""
        last = last_event(run.run_dir)
        if last and last.get("type") == "done":
            store.finish(self.sessions, run.id, "succeeded", None, _read_metrics(run))
            return
        if last and last.get("type") == "error" and job_reason_wins:
            reason = last.get("message") or reason
        if not last or last.get("type") not in TERMINAL:
            append_event(run.run_dir, {
                "type": "error", "step": (last or {}).get("step", 0), "total_steps": (last or {}).get("total_steps"),
                "elapsed_s": (last or {}).get("elapsed_s"), "eta_s": None, "message": reason,
            })
        store.finish(self.sessions, run.id, status_if_unfinished, reason, _read_metrics(run))


def settle_if_done(sessions: sessionmaker[Session], run: Run) -> Run:
    """A run whose job has written `done` is succeeded now, not at the scheduler's next tick, so a
    learner who opens the evaluation the moment the page says done finds it (idempotent)."""
    if run.status == "running":
        last = last_event(run.run_dir)
        if last and last.get("type") == "done":
            store.finish(sessions, run.id, "succeeded", None, _read_metrics(run))
            return store.get_run(sessions, run.id, None)
    return run


def _read_metrics(run: Run) -> dict | None:
    path = Path(run.run_dir) / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
