"""The CPU image, built and run as a self-hoster would: healthy, serving chapters, as uid 10001, with labs that
train in a fresh container (the image ships the offline default base), and data that outlives the container."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.docker.container import Container
from tests.docker.docker_env import docker

RUN_STEPS = 20  # a short real QLoRA run: enough to show the engine works in the image, kept lean for CI


def wait_for_run(client: httpx.Client, run_id: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/labs/runs/{run_id}").json()
        if not run["active"]:
            return run
        assert time.monotonic() < deadline, f"the run was still {run['status']} after {timeout:.0f} s: {run}"
        time.sleep(2)


@pytest.fixture(scope="module")
def finished_run(browser_like) -> dict:
    """A lab run launched over HTTP in the fresh container, waited for until it ends."""
    launched = browser_like.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny", "steps": RUN_STEPS})
    assert launched.status_code == 201, launched.text
    return wait_for_run(browser_like, launched.json()["id"])


def test_healthz_reports_the_server_and_its_database_healthy(course_container):
    health = httpx.get(f"{course_container.url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["database"] == "ok"


def test_a_chapter_page_is_served_with_its_title(browser_like):
    chapter = browser_like.get("/api/chapters").json()[0]
    page = browser_like.get(chapter["url"])
    assert page.status_code == 200 and chapter["title"] in page.text


def test_the_server_process_runs_as_uid_10001(course_container):
    status = docker("exec", course_container.name, "cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {"10001"}
    assert "course" in docker("exec", course_container.name, "cat", "/proc/1/cmdline").stdout


def test_the_smollm2_base_package_is_installed_with_its_gguf_file(course_container):
    found = docker("exec", course_container.name, "python", "-c",
                   "from labs.base import find_smollm2_gguf; print(find_smollm2_gguf())").stdout
    assert found.strip().endswith(".gguf")


def test_the_training_lab_offers_the_default_base_as_ready_in_a_fresh_container(browser_like):
    chapter_4 = next(c for c in browser_like.get("/api/chapters").json() if c["number"] == 4)
    page = browser_like.get(chapter_4["url"]).text
    assert '<option value="tiny"' in page and "tiny (not built on this server)" not in page


def test_a_lab_run_launched_over_http_trains_and_succeeds_in_the_container(finished_run):
    assert finished_run["status"] == "succeeded", finished_run
    assert finished_run["compliance_after"] is not None


def test_the_image_health_check_turns_healthy(course_container):
    configured = course_container.inspect()["Config"]["Healthcheck"]["Test"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(configured)
    deadline = time.monotonic() + 90
    while (status := course_container.inspect()["State"]["Health"]["Status"]) != "healthy":
        assert status != "unhealthy", course_container.inspect()["State"]["Health"]
        assert time.monotonic() < deadline, f"still {status} after 90 s"
        time.sleep(1)


def test_runs_and_progress_outlive_the_container_on_the_same_volume(course_container, browser_like, finished_run):
    docker("stop", course_container.name, timeout=60)
    successor = Container(course_container.image, course_container.volume).start()
    try:
        with httpx.Client(base_url=successor.url, cookies=browser_like.cookies, timeout=30) as client:
            runs = client.get("/api/labs/runs").json()
        assert [run["id"] for run in runs] == [finished_run["id"]]
        assert runs[0]["status"] == "succeeded"
    finally:
        successor.remove()
