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


def _dockerfile_arg_defaults() -> dict[str, str]:
    defaults = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG ") and "=" in line:
            name, value = line[4:].split("=", 1)
            defaults[name] = value.strip('"')
    return defaults


def test_the_dockerfile_needs_no_frontend_image_and_takes_its_sources_as_build_args():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "# syntax=" not in dockerfile  # BuildKit would fetch a frontend image from Docker Hub
    defaults = _dockerfile_arg_defaults()
    assert defaults["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    assert defaults["NODE_IMAGE"] == "node:20-bookworm-slim"
    assert defaults["CUDA_IMAGE"].startswith("nvidia/cuda:")
    assert defaults["TORCH_PIP_ARGS"] == "--index-url https://download.pytorch.org/whl/cpu"
    for arg in ("PYTHON_IMAGE", "NODE_IMAGE", "CUDA_IMAGE"):
        assert f"FROM ${{{arg}}}" in dockerfile


def test_compose_build_args_default_to_the_dockerfile_defaults():
    # Compose v1 sends an unset variable as "", so compose repeats the defaults; they must not drift apart.
    args = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["course"]["build"]["args"]
    defaults = _dockerfile_arg_defaults()
    for name, value in args.items():
        assert value == f"${{{name}:-{defaults.get(name, '')}}}"


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_local():
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in patterns  # an allow-list: everything is left out unless named below
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert source.split("/")[0] in allowed, f"{source} is copied but .dockerignore leaves it out"
    assert not allowed & {".venv", "node_modules", "data", ".git", "test-artifacts"}


def test_the_postgres_profile_waits_for_a_healthy_database_and_sets_the_url_itself():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    course = services["course-postgres"]
    assert course["profiles"] == ["postgres"] == services["postgres"]["profiles"]
    assert course["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "@postgres:5432/" in course["environment"]["COURSE_DATABASE_URL"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "COURSE_DATABASE_URL" not in services["course"]["environment"]  # the default stays on SQLite


def test_the_ray_profile_runs_a_head_a_worker_and_the_course_on_one_shared_volume():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    course, head, worker = services["course-ray"], services["ray-head"], services["ray-worker"]
    assert course["environment"]["COURSE_RUNNER"] == "ray"
    assert course["environment"]["COURSE_RAY_ADDRESS"] == "http://ray-head:8265"
    assert "--head" in head["command"] and "--address=ray-head:6379" in worker["command"]
    assert course["depends_on"]["ray-head"]["condition"] == "service_healthy"
    for service in (course, head, worker):
        assert service["profiles"] == ["ray"] and "course-data:/data" in service["volumes"]
        assert service["build"]["target"] == "ray"
    assert head["environment"]["RAY_AUTH_TOKEN"] == course["environment"]["RAY_AUTH_TOKEN"]


def test_the_ray_profile_deploys_serving_on_the_cluster_with_the_secret_the_course_sends():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    course, deploy = services["course-ray"]["environment"], services["ray-serve"]
    assert course["COURSE_SERVING"] == "ray" and course["COURSE_SERVE_ADDRESS"] == "http://ray-head:8100"
    assert deploy["command"][:2] == ["course-lab", "serve-ray"] and "--address=ray-head:6379" in deploy["command"]
    assert "--http-port=8100" in deploy["command"] and deploy["profiles"] == ["ray"]
    assert deploy["environment"]["COURSE_SERVE_SECRET"] == course["COURSE_SERVE_SECRET"]
    assert deploy["environment"]["RAY_AUTH_TOKEN"] == course["RAY_AUTH_TOKEN"]


def test_the_gpu_variant_uses_the_cuda_target_with_an_nvidia_device_reservation():
    gpu = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["course-gpu"]
    assert gpu["build"]["target"] == "cuda"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
