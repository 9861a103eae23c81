"""Every lab job's environment comes from one allow-list: secrets of the web server never reach it."""

from pathlib import Path

from labs.job_env import job_environment, remote_job_variables

SERVER_ENV = {
    "PATH": "/usr/bin", "HOME": "/home/course", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1",
    "COURSE_SECRET_KEY": "s3cret", "COURSE_DATABASE_URL": "postgresql://course:pw@db/course",
    "RAY_AUTH_TOKEN": "tok", "AWS_SECRET_ACCESS_KEY": "aws", "HF_TOKEN": "hf_x", "DATABASE_URL": "postgres://x",
}


def test_a_local_job_keeps_what_python_needs_and_drops_every_secret(tmp_path):
    env = job_environment(tmp_path, SERVER_ENV)
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C.UTF-8" and env["OMP_NUM_THREADS"] == "1"
    assert env["COURSE_DATA_DIR"] == str(Path(tmp_path).resolve()) and env["HF_HUB_OFFLINE"] == "1"
    assert not {"COURSE_SECRET_KEY", "COURSE_DATABASE_URL", "RAY_AUTH_TOKEN", "AWS_SECRET_ACCESS_KEY",
                "HF_TOKEN", "DATABASE_URL"} & env.keys()


def test_a_ray_job_gets_neither_secrets_nor_this_machines_paths(tmp_path):
    variables = remote_job_variables({**job_environment(tmp_path, SERVER_ENV), "COURSE_DATABASE_URL": "x"})
    assert variables["COURSE_DATA_DIR"] == str(Path(tmp_path).resolve()) and variables["OMP_NUM_THREADS"] == "1"
    assert not {"PATH", "HOME", "COURSE_DATABASE_URL", "COURSE_SECRET_KEY"} & variables.keys()


def test_the_ray_runner_submits_only_allow_listed_variables(monkeypatch, tmp_path):
    from labs.runners import ray_jobs

    submitted = {}

    class Client:
        def submit_job(self, **kwargs):
            submitted.update(kwargs)

    runner = ray_jobs.RayRunner.__new__(ray_jobs.RayRunner)
    runner.client = Client()
    runner.start("r1", ["python", "-m", "labs"], str(tmp_path), dict(SERVER_ENV), 0)
    assert not {"COURSE_SECRET_KEY", "COURSE_DATABASE_URL", "RAY_AUTH_TOKEN"} & submitted["runtime_env"]["env_vars"].keys()
