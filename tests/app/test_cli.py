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


def test_course_serve_refuses_the_development_secret_in_production_without_a_traceback(tmp_path):
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path), "COURSE_ENVIRONMENT": "production"}
    env.pop("COURSE_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "COURSE_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
