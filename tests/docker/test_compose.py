"""compose.yaml as Compose itself reads it (Debian's docker-compose, or the `docker compose` plugin where it
exists): the default project and every profile validate and resolve to what the README promises."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.docker.docker_env import HOW_TO_START, OPT_OUT, ROOT


def _compose() -> list[str]:
    if os.environ.get(OPT_OUT) == "1":
        pytest.skip(f"{OPT_OUT}=1: compose.yaml is not checked by Compose in this session")
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail(f"Neither `docker compose` nor `docker-compose` is installed. {HOW_TO_START}", pytrace=False)


def _config(*profiles: str) -> dict:
    """The project as Compose resolves it (interpolated, merged anchors), with `profiles` active."""
    args = [*_compose(), "--project-directory", str(ROOT), "-f", str(ROOT / "compose.yaml")]
    for name in profiles:
        args += ["--profile", name]
    result = subprocess.run([*args, "config"], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "COURSE_"))})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_resolves_the_default_course_on_sqlite_with_the_public_build_defaults():
    course = _config()["services"]["course"]
    assert course["build"]["target"] == "cpu"
    assert course["build"]["args"]["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    assert "COURSE_DATABASE_URL" not in course["environment"]
    assert any("127.0.0.1:8000:8000" in str(port) for port in course["ports"])


@pytest.mark.parametrize("profile, service", [
    ("postgres", "course-postgres"), ("ray", "course-ray"), ("gpu", "course-gpu"),
])
def test_each_compose_profile_resolves_its_course_variant_with_the_shared_volume(profile, service):
    variant = _config(profile)["services"][service]
    assert any("course-data" in str(volume) and "/data" in str(volume) for volume in variant["volumes"])
    assert variant["environment"]["COURSE_SECRET_KEY"]
