"""The local runner: one process per run, in its own session (process group).

Its own group means a cancel can signal the whole tree at once (the trainer and anything it spawned),
and that the run survives a crash of the server that started it: a restarted server finds it again by
pid, checking the process's command line or working directory so a recycled pid is never mistaken for the run.
A lab command (`python -m labs ...`) is forked from a warm process that has already imported the training
stack (labs.runners.warm), started on first use; anything else, or a warm process that cannot serve the
command, gets a fresh subprocess.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from labs.runners import JobState
from labs.runners.warm import WarmProcess, read_exit

CANCEL_GRACE_S = 5.0  # SIGTERM lets the trainer write its `error` event; SIGKILL after this


class LocalRunner:
    name = "local"

    def __init__(self, warm: bool = True):
        self._children: dict[int, subprocess.Popen] = {}
        self._forked: set[int] = set()  # runs forked by the warm process: it reaps them and records their exit
        self._warm_enabled = warm
        self._warm: WarmProcess | None = None

    def start(self, run_id: str, command: list[str], cwd: str, env: dict[str, str], num_gpus: float) -> str:
        run_dir = Path(cwd)
        run_dir.mkdir(parents=True, exist_ok=True)
        pid = self._fork_warm(command, run_dir, env)
        if pid is not None:
            return str(pid)
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

    def _fork_warm(self, command: list[str], run_dir: Path, env: dict[str, str]) -> int | None:
        if not self._warm_enabled or command[:3] != [sys.executable, "-m", "labs"]:
            return None
        if self._warm is None or self._warm.process.poll() is not None:
            self._warm = WarmProcess(env)
        pid = self._warm.fork(command[3:], str(run_dir.resolve()), env, str((run_dir / "process.log").resolve()))
        if pid is not None:
            self._forked.add(pid)
        return pid

    def close(self) -> None:
        """Stop the warm process (runs it forked go on; their exit codes are then unknown, their events are not)."""
        if self._warm is not None:
            self._warm.close()
            self._warm = None

    def state(self, handle: str, run_dir: str) -> JobState:
        pid = int(handle)
        child = self._children.get(pid)
        if child is not None:
            code = child.poll()
            if code is None:
                return JobState(True)
            self._children.pop(pid, None)
            return JobState(False, code, _describe_exit(code))
        code = read_exit(run_dir)
        if code is not None:  # a forked run that ended (its exit was recorded before it was reaped)
            self._forked.discard(pid)
            return JobState(False, code, _describe_exit(code))
        if pid in self._forked and _alive(pid):
            return JobState(True)  # an ended child the warm process is about to record
        # Not our child (started before a restart): alive only if the pid still runs this run.
        if _runs_in(pid, run_dir):
            return JobState(True)
        return JobState(False, None, "the training process is gone")

    def cancel(self, handle: str, run_dir: str) -> None:
        pid = int(handle)
        if pid not in self._children and pid not in self._forked and not _runs_in(pid, run_dir):
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


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _runs_in(pid: int, run_dir: str) -> bool:
    """True when `pid` is alive and runs this run: its command line names `run_dir`, or (forked from the warm
    process, whose command line it shares) its working directory is `run_dir`. A reused pid does not count."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:
        return False
    if str(run_dir).encode() in cmdline:
        return True
    try:
        return os.path.samefile(os.readlink(f"/proc/{pid}/cwd"), run_dir)
    except OSError:
        return False


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the training process was killed ({name})"
    return f"the training process exited with code {code}"
