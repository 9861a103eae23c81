"""What the Docker tests need from the machine: a running daemon, the stand-in base images, torch's wheel.

Our machines cannot reach Docker Hub, so the Dockerfile's base images are replaced by stand-ins made from
Debian packages (tests/docker/standin_images.sh), and torch comes from the machine's local wheel directory
(PIP_FIND_LINKS), served over HTTP on loopback to a build that uses the host's network.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
STANDIN_SCRIPT = Path(__file__).with_name("standin_images.sh")
PYTHON_STANDIN = "ftip-standin/python:3.11-bookworm"
NODE_STANDIN = "ftip-standin/node:bookworm"
OPT_OUT = "COURSE_SKIP_DOCKER_TESTS"
HOW_TO_START = (
    "The Docker tests need a running Docker daemon: `make test` installs Debian's docker.io and starts dockerd "
    f"(make docker-daemon). To leave these tests out on purpose, set {OPT_OUT}=1; they are then reported as skipped."
)


def docker(*args: str, timeout: float = 120, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def daemon_problem() -> str | None:
    """None when `docker info` answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        result = docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer in 30 s"
    return None if result.returncode == 0 else (result.stderr.strip() or "`docker info` failed")


def ensure_standin_images() -> None:
    """Build the stand-in base images unless docker already has them (a few minutes the first time)."""
    result = subprocess.run(["bash", str(STANDIN_SCRIPT)], capture_output=True, text=True, timeout=1800,
                            env={**os.environ, "PYTHON_STANDIN": PYTHON_STANDIN, "NODE_STANDIN": NODE_STANDIN})
    assert result.returncode == 0, f"the stand-in base images could not be built:\n{result.stdout}\n{result.stderr}"


def local_wheel_dir() -> Path | None:
    """The first PIP_FIND_LINKS directory that holds a torch 2.13.0 wheel, if any."""
    for entry in os.environ.get("PIP_FIND_LINKS", "").split():
        folder = Path(entry.removeprefix("file://"))
        if folder.is_dir() and any(folder.glob("torch-2.13.0*.whl")):
            return folder
    return None


@contextlib.contextmanager
def served_directory(folder: Path):
    """`folder` as an HTTP directory listing on 127.0.0.1 (pip's --find-links reads it); yields the URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def build_image(tag: str, target: str, log_path: Path) -> float:
    """`docker build` of `target` with the stand-ins and the local torch wheel; returns the seconds it took.

    The legacy builder (Debian's daemon has no buildx) keeps its layer cache between runs, so a rebuild
    after a source change redoes only the layers after the first changed COPY.
    """
    args = ["build", "--network", "host", "--target", target, "-t", tag,
            "--build-arg", f"PYTHON_IMAGE={PYTHON_STANDIN}", "--build-arg", f"NODE_IMAGE={NODE_STANDIN}"]
    wheels = local_wheel_dir()
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if wheels is not None:
            url = stack.enter_context(served_directory(wheels))
            args += ["--build-arg", f"TORCH_PIP_ARGS=--find-links {url}"]
        result = docker(*args, str(ROOT), timeout=3600, check=False, env={"DOCKER_BUILDKIT": "0"})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"docker build failed; the log is {log_path}:\n{(result.stdout + result.stderr)[-4000:]}"
    return time.monotonic() - started
