"""A throwaway Ray head on 127.0.0.1 for tests: `ray start --head --block` in a session of its own, token
authentication on, every port picked free (two heads on one machine never collide).

Stopped by signalling the processes of that session only. Never `ray stop`: it stops every Ray cluster on the
machine, other people's test clusters included.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RayHead:
    gcs_address: str  # "127.0.0.1:PORT", for ray.init(address=...)
    dashboard_address: str | None  # "http://127.0.0.1:PORT" (the Jobs API), when started with the dashboard
    auth_env: dict[str, str]  # what a client process needs in its environment to be let in


def _session_processes(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:  # gone meanwhile
                pass
    return pids


def _stop_session(head: subprocess.Popen, grace_s: float = 15) -> None:
    """SIGTERM every process of the head's session (raylet, GCS, workers, Serve's actors), SIGKILL what is left."""
    for pid in _session_processes(head.pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and [p for p in _session_processes(head.pid) if p != head.pid]:
        time.sleep(0.3)
    for pid in _session_processes(head.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    head.wait(timeout=30)


def _start(temp_dir: Path, num_cpus: int, dashboard: bool, env: dict, auth_env: dict):
    """One `ray start --head --block`: (the process, the RayHead once it runs or None, its log)."""
    ray = str(Path(sys.executable).with_name("ray"))
    gcs_port, dashboard_port = free_port(), free_port()
    ports = {name: free_port() for name in ("node-manager-port", "object-manager-port", "ray-client-server-port",
                                            "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                            "metrics-export-port", "runtime-env-agent-port")}
    command = [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs_port}",
               f"--num-cpus={num_cpus}", "--num-gpus=0", "--disable-usage-stats", f"--temp-dir={temp_dir}",
               # Workers take ports the system hands out, not Ray's default 10002-19999 (others' fixed ranges).
               "--min-worker-port=0", "--max-worker-port=0",
               f"--include-dashboard={'true' if dashboard else 'false'}",
               *(["--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}"] if dashboard else []),
               *(f"--{name}={port}" for name, port in ports.items())]
    log = temp_dir / "head.log"
    with open(log, "w") as out:
        head = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + 180
    while "Ray runtime started" not in log.read_text():
        if head.poll() is not None or time.monotonic() > deadline:
            return head, None, log.read_text()
        time.sleep(0.5)
    return head, RayHead(f"127.0.0.1:{gcs_port}", f"http://127.0.0.1:{dashboard_port}" if dashboard else None,
                         auth_env), ""


@contextmanager
def local_ray_head(temp_dir: Path, num_cpus: int = 1, dashboard: bool = False, attempts: int = 3):
    """Yields a RayHead; while it runs, this process's environment carries the token (RAY_AUTH_*), so Ray
    clients made here and child processes started here are let in. Ray gives its raylet a fixed 30 s to register, which a machine busy with other
    work can miss: a head that fails so is stopped and started afresh, up to `attempts` times."""
    auth_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    with mock.patch.dict(os.environ, auth_env):
        for attempt in range(1, attempts + 1):
            # Ray's Unix socket paths must stay short (about 107 characters): no extra level on the first try.
            folder = temp_dir if attempt == 1 else temp_dir / str(attempt)
            folder.mkdir(exist_ok=True)
            head, started, log = _start(folder, num_cpus, dashboard, dict(os.environ), auth_env)
            if started is not None:
                break
            _stop_session(head)
            assert attempt < attempts, f"the Ray head did not start in {attempts} tries; the last said:\n{log[-3000:]}"
        try:
            yield started
        finally:
            _stop_session(head)
