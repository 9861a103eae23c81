"""Fixtures for the Docker tests: a daemon (or a clear failure), the CPU image built once per session, and one
container of it on a fresh named volume, with its published port."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from tests.docker.container import ARTIFACTS, Container
from tests.docker.docker_env import HOW_TO_START, OPT_OUT, build_image, daemon_problem, docker, ensure_standin_images


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

