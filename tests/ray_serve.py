"""The course's Ray Serve application on a throwaway local Ray head, deployed the way an operator deploys it
(`python -m labs serve-ray`, a real subprocess), for the lab and app tests of COURSE_SERVING=ray.

One CPU and one replica: the machines that run the tests are small and shared.
"""

import os
import secrets
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ray_head import free_port, local_ray_head

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RayServing:
    address: str  # Serve's HTTP proxy, http://127.0.0.1:PORT
    secret: str


@contextmanager
def ray_serving(temp_dir: Path, data_dir: Path, max_adapters: int = 2, preload: tuple[str, ...] = ("micro",)):
    """Yields a RayServing once the application runs with `preload` loaded; everything Ray started is stopped."""
    secret = secrets.token_urlsafe(24)
    with local_ray_head(temp_dir, num_cpus=1) as head:
        env = {**os.environ, "COURSE_SERVE_SECRET": secret, "COURSE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": str(ROOT)}
        deployed = subprocess.run(
            [sys.executable, "-m", "labs", "serve-ray", "--address", head.gcs_address,
             "--http-port", str(free_port()), "--max-adapters", str(max_adapters), "--num-cpus", "1",
             "--preload", *preload],
            env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
        )
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-4000:]
        yield RayServing(deployed.stdout.strip().splitlines()[-1], secret)
