"""The Ray runner: the same command submitted to a Ray cluster through the Ray Jobs API.

A run that wants a GPU asks for `entrypoint_num_gpus` (fractions allowed, so several small-model runs
share one GPU). The run directory must be on storage that the cluster's nodes and the web server both
see (the same machine, or a shared volume), because the web server reads the job's events from it.
"""

from labs.job_env import remote_job_variables
from labs.runners import JobState

_ENDED = {"SUCCEEDED": 0, "FAILED": 1, "STOPPED": 143}


class RayRunner:
    name = "ray"

    def __init__(self, address: str):
        from ray.job_submission import JobSubmissionClient

        self.client = JobSubmissionClient(address)

    def start(self, run_id: str, command: list[str], cwd: str, env: dict[str, str], num_gpus: float) -> str:
        import shlex

        submission_id = f"course-run-{run_id}"
        self.client.submit_job(
            entrypoint=f"mkdir -p {shlex.quote(cwd)} && cd {shlex.quote(cwd)} && exec {shlex.join(command)}",
            submission_id=submission_id,
            entrypoint_num_gpus=num_gpus or None,
            # Never the caller's whole environment: database credentials and tokens stay on the web server.
            runtime_env={"env_vars": remote_job_variables(env)},
        )
        return submission_id

    def state(self, handle: str, run_dir: str) -> JobState:
        status = str(self.client.get_job_status(handle)).rsplit(".", 1)[-1]
        if status not in _ENDED:
            return JobState(True)
        detail = "" if status == "SUCCEEDED" else f"the Ray job ended as {status}"
        return JobState(False, _ENDED[status], detail)

    def cancel(self, handle: str, run_dir: str) -> None:
        self.client.stop_job(handle)

    def close(self) -> None:
        """Nothing held between jobs: the cluster keeps them."""
