"""The local runner: one subprocess per run, in its own session (process group).

Its own group means a cancel can signal the whole tree at once (the trainer and anything it spawned),
and that the run survives a crash of the server that started it: a restarted server finds it again by
pid, checking the process's command line so a recycled pid is never mistaken for the run.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from labs.runners import JobState

CANCEL_GRACE_S = 5.0  # SIGTERM lets the trainer write its `error` event; SIGKILL after this


class LocalRunner:
    name = "local"

    def __init__(self):
        self._children: dict[int, subprocess.Popen] = {}

    def start(self, run_id: str, command: list[str], cwd: str, env: dict[str, str], num_gpus: float) -> str:
        run_dir = Path(cwd)
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / "process.log", "ab") as log:
            child = subprocess.Popen(
                command,
                cwd=run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children[child.pid] = child
        return str(child.pid)

    def state(self, handle: str, run_dir: str) -> JobState:
        pid = int(handle)
        child = self._children.get(pid)
        if child is not None:
            code = child.poll()
            if code is None:
                return JobState(True)
            self._children.pop(pid, None)
            return JobState(False, code, _describe_exit(code))
        # Not our child (started before a restart): alive only if the pid still runs this run.
        if _runs_in(pid, run_dir):
            return JobState(True)
        return JobState(False, None, "the training process is gone")

    def cancel(self, handle: str, run_dir: str) -> None:
        pid = int(handle)
        if pid not in self._children and not _runs_in(pid, run_dir):
            return
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while time.monotonic() < deadline and self.state(handle, run_dir).running:
            time.sleep(0.1)
        _signal_group(pid, signal.SIGKILL)
        child = self._children.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the child leads its own session, so its pgid is its pid
    except (ProcessLookupError, PermissionError):
        pass


def _runs_in(pid: int, run_dir: str) -> bool:
    """True when `pid` is alive and its command line names `run_dir` (so a reused pid does not count)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:
        return False
    return str(run_dir).encode() in cmdline


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the training process was killed ({name})"
    return f"the training process exited with code {code}"
