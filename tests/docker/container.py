"""A course container run from the image under test: started on a named volume with its port published on
loopback, waited for until /healthz answers, and removed with its log kept in test-artifacts/."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.docker.docker_env import ROOT, docker

ARTIFACTS = ROOT / "test-artifacts"
SECRET_KEY = "docker-test-secret-key-" + "x" * 24


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
