"""`course serve` as a real process: migrates an empty data dir and serves; bad settings exit cleanly."""

import os
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_course_serve_starts_on_an_empty_data_dir_and_answers_healthz(tmp_path):
    port = _free_port()
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path / "fresh")}
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.3)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert (tmp_path / "fresh" / "course.db").is_file()
    finally:
        server.terminate()
        server.wait(timeout=10)


SLOW_WORKER_START = """
import sys, time
if "--multiprocessing-fork" in sys.argv:  # a uvicorn worker, spawned: start as slowly as on a busy machine
    time.sleep(8)
"""


def test_workers_that_take_longer_than_five_seconds_to_start_are_waited_for_not_killed_in_a_loop(tmp_path):
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "sitecustomize.py").write_text(SLOW_WORKER_START)
    port = _free_port()
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(tmp_path / "slow")}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert server.poll() is None
                assert time.monotonic() < deadline, "no worker started within 120 s"
                time.sleep(0.5)
        time.sleep(2)
    finally:
        server.terminate()
        try:
            log = server.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            server.kill()
            log = server.communicate()[1]
    assert "died" not in log, log[-2000:]


def test_course_serve_refuses_the_development_secret_in_production_without_a_traceback(tmp_path):
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path), "COURSE_ENVIRONMENT": "production"}
    env.pop("COURSE_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "COURSE_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def _course(tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


def test_users_create_reads_the_password_from_stdin_and_set_role_changes_it(tmp_path):
    created = _course(tmp_path, "users", "create", "--email", "Root@Example.org", "--role", "admin",
                      stdin="a strong admin passphrase\n")
    assert created.returncode == 0, created.stderr
    assert "Created admin root@example.org" in created.stdout and "passphrase" not in created.stdout
    teacher = _course(tmp_path, "users", "create", "--email", "t@example.org", "--role", "instructor",
                      "--name", "Teacher", stdin="another strong passphrase\n")
    assert teacher.returncode == 0, teacher.stderr
    demoted = _course(tmp_path, "users", "set-role", "--email", "t@example.org", "--role", "learner")
    assert demoted.returncode == 0 and "t@example.org is now learner" in demoted.stdout
    last_admin = _course(tmp_path, "users", "set-role", "--email", "root@example.org", "--role", "learner")
    assert last_admin.returncode == 1 and "only admin" in last_admin.stderr


def test_users_create_refuses_a_weak_password_or_one_on_the_command_line(tmp_path):
    weak = _course(tmp_path, "users", "create", "--email", "w@example.org", stdin="short\n")
    assert weak.returncode == 1 and "password: use at least 10 characters" in weak.stderr
    assert "Traceback" not in weak.stderr
    on_argv = _course(tmp_path, "users", "create", "--email", "w@example.org", "--password", "a strong passphrase")
    assert on_argv.returncode == 2 and "unrecognized arguments" in on_argv.stderr


def test_on_a_terminal_the_password_is_prompted_twice_and_must_match(monkeypatch):
    from app import cli

    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["first passphrase", "second passphrase"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    try:
        cli._read_password()
    except SystemExit as stopped:
        assert "differ" in str(stopped)
    else:
        raise AssertionError("mismatched passwords were accepted")
    answers = iter(["same passphrase", "same passphrase"])
    assert cli._read_password() == "same passphrase"



def test_several_workers_counting_rate_limits_in_memory_are_warned_about_and_redis_is_not():
    from app.cli import several_workers_warnings

    (warning,) = several_workers_warnings("memory://", 2)
    assert "2 times as many" in warning and "COURSE_RATE_LIMIT_STORAGE=redis://" in warning
    assert several_workers_warnings("memory://", 1) == []
    assert several_workers_warnings("redis://127.0.0.1:6379", 4) == []
