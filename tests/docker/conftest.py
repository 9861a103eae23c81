"""Fixtures for the Docker tests: a daemon (or a clear failure), the CPU image built once per session, and one
container of it on a fresh named volume, with its published port."""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import pytest

from tests.docker.docker_env import (HOW_TO_START, OPT_OUT, ROOT, build_image, daemon_problem, docker,
                                     ensure_standin_images)

ARTIFACTS = ROOT / "test-artifacts"
SECRET_KEY = "docker-test-secret-key-" + "x" * 24


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    if os.environ.get(OPT_OUT) == "1":
        pytest.skip(f"{OPT_OUT}=1: the Docker image is not built nor run in this session")
    problem = daemon_problem()
    if problem:
        pytest.fail(f"No Docker daemon ({problem}). {HOW_TO_START}", pytrace=False)


@pytest.fixture(scope="session")
def cpu_image(docker_daemon) -> str:
    ensure_standin_images()
    tag = "fine-tuning-in-practice:docker-test"
    seconds = build_image(tag, "cpu", ARTIFACTS / "docker-build.log")
    size = int(docker("image", "inspect", tag, "--format", "{{.Size}}").stdout)
    print(f"\ndocker build of the cpu target: {seconds:.0f} s; image {size / 1e9:.2f} GB")
    return tag


class Container:
    """A running course container: its name, its base URL on loopback and the volume it keeps data in."""

    def __init__(self, image: str, volume: str):
        self.image, self.volume = image, volume
        self.name = ""
        self.url = ""

    def start(self) -> Container:
        self.name = f"ftip-test-{uuid.uuid4().hex[:8]}"
        # The image's own HEALTHCHECK command, polled every 2 s instead of 30 s so the test sees it turn healthy.
        docker("run", "-d", "--name", self.name, "-p", "127.0.0.1::8000", "-v", f"{self.volume}:/data",
               "-e", f"COURSE_SECRET_KEY={SECRET_KEY}", "--health-interval=2s", "--health-start-period=60s",
               self.image)
        port = docker("port", self.name, "8000/tcp").stdout.splitlines()[0].rsplit(":", 1)[1]
        self.url = f"http://127.0.0.1:{port}"
        self.wait_until_serving()
        return self

    def wait_until_serving(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            state = self.inspect()["State"]
            assert state["Running"], f"the container stopped ({state}):\n{self.logs()}"
            assert time.monotonic() < deadline, f"no answer on /healthz within {timeout:.0f} s:\n{self.logs()}"
            time.sleep(1)

    def inspect(self) -> dict:
        return json.loads(docker("inspect", self.name).stdout)[0]

    def logs(self) -> str:
        result = docker("logs", "--tail", "80", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        if self.name:
            (ARTIFACTS / f"docker-{self.name}.log").write_text(self.logs())
            docker("rm", "-f", self.name, check=False)


@pytest.fixture(scope="module")
def data_volume(docker_daemon):
    name = f"ftip-test-data-{uuid.uuid4().hex[:8]}"
    docker("volume", "create", name)
    yield name
    docker("volume", "rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def course_container(cpu_image, data_volume):
    ARTIFACTS.mkdir(exist_ok=True)
    container = Container(cpu_image, data_volume)
    try:
        yield container.start()
    finally:
        container.remove()


@pytest.fixture(scope="module")
def browser_like(course_container) -> httpx.Client:
    """A client with cookies that sends the CSRF header the way the pages' htmx does."""
    with httpx.Client(base_url=course_container.url, timeout=30) as client:
        client.get("/")  # the learner and csrftoken cookies
        client.headers["x-csrftoken"] = client.cookies["csrftoken"]
        yield client

