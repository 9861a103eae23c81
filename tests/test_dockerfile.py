"""The self-hosting files: hadolint passes on the Dockerfile; compose names the image's health check."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _hadolint() -> str:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


def test_hadolint_passes_on_the_dockerfile():
    result = subprocess.run([_hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_numeric_non_root_user_with_a_volume_and_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert "HEALTHCHECK" in dockerfile and "VOLUME" in dockerfile


def test_compose_serves_the_course_with_data_in_a_named_volume():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    course = compose["services"]["course"]
    assert any(str(port).endswith(":8000") for port in course["ports"])
    assert any(str(volume).startswith("course-data:") for volume in course["volumes"])
    assert "course-data" in compose["volumes"]
