"""Where a lab run's process executes: a local subprocess or a Ray cluster job.

Both runners start the same command (`python -m labs train … --run-dir DIR`), and the job writes the
same `events.jsonl` into its run directory, so whatever relays events needs to know nothing about the
runner. A runner only starts, inspects and stops processes; the queue and the statuses live with
whoever calls it (the web service keeps them in its database).
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class JobState:
    """What a runner can say about a job: still running, or ended (with an exit code when known)."""

    running: bool
    exit_code: int | None = None
    detail: str = ""


class Runner(Protocol):
    name: str

    def start(self, run_id: str, command: list[str], cwd: str, env: dict[str, str], num_gpus: float) -> str:
        """Start the job; return a handle (a pid, a Ray submission id) to store with the run."""

    def state(self, handle: str, run_dir: str) -> JobState:
        """Whether the job behind `handle` still runs; a handle from before a restart is valid too."""

    def cancel(self, handle: str, run_dir: str) -> None:
        """Stop the job and everything it started."""

    def close(self) -> None:
        """Release what the runner holds between jobs (the local runner's warm process); jobs go on."""


def make_runner(kind: str, ray_address: str = "") -> Runner:
    """The runner for a COURSE_RUNNER value: `local` or `ray`."""
    if kind == "local":
        from labs.runners.local import LocalRunner

        return LocalRunner()
    if kind == "ray":
        from labs.runners.ray_jobs import RayRunner

        return RayRunner(ray_address)
    raise ValueError(f"runner should be 'local' or 'ray', got {kind!r}")
