"""What the Docker tests need from the machine: a running daemon, the stand-in base images, torch's wheel.

Our machines cannot reach Docker Hub, so the Dockerfile's base images are replaced by stand-ins made from
Debian packages (tests/docker/standin_images.sh), and torch comes from the machine's local wheel directory
(PIP_FIND_LINKS), served over HTTP by a container on the build's network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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


BUILD_NETWORK = "ftip-test-build"
WHEELS_CONTAINER = "ftip-test-wheels"


def wheel_server(folder: Path) -> str:
    """`folder` served over HTTP by a container on a build network; returns the URL for pip's --find-links.

    The URL is the same on every run: the legacy builder keys every later RUN of a stage on the build args'
    values, so a URL with a new port each time would reinstall torch and every dependency on every run.
    """
    if docker("network", "inspect", BUILD_NETWORK, check=False).returncode != 0:
        docker("network", "create", BUILD_NETWORK)
    docker("rm", "-f", WHEELS_CONTAINER, check=False)
    docker("run", "-d", "--rm", "--name", WHEELS_CONTAINER, "--network", BUILD_NETWORK,
           "-v", f"{folder}:/wheels:ro", "-w", "/wheels", PYTHON_STANDIN, "python3", "-m", "http.server", "8080")
    return f"http://{WHEELS_CONTAINER}:8080/"


def build_image(tag: str, target: str, log_path: Path) -> float:
    """`docker build` of `target` with the stand-ins and the local torch wheel; returns the seconds it took.

    The legacy builder (Debian's daemon has no buildx) keeps its layer cache between runs, so a rebuild
    after a source change redoes only the layers after the first changed COPY.
    """
    args = ["build", "--target", target, "-t", tag,
            "--build-arg", f"PYTHON_IMAGE={PYTHON_STANDIN}", "--build-arg", f"NODE_IMAGE={NODE_STANDIN}"]
    wheels = local_wheel_dir()
    if wheels is not None:
        # pip only trusts plain HTTP on localhost unless told otherwise.
        torch_source = f"--find-links {wheel_server(wheels)} --trusted-host {WHEELS_CONTAINER}"
        args += ["--network", BUILD_NETWORK, "--build-arg", f"TORCH_PIP_ARGS={torch_source}"]
    started = time.monotonic()
    try:
        result = docker(*args, str(ROOT), timeout=3600, check=False, env={"DOCKER_BUILDKIT": "0"})
    finally:
        docker("rm", "-f", WHEELS_CONTAINER, check=False)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"docker build failed; the log is {log_path}:\n{(result.stdout + result.stderr)[-4000:]}"
    return time.monotonic() - started
