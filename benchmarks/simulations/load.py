"""Load benchmark of the simulation endpoints against /healthz, in one run on one uvicorn worker.

Starts `course serve` (one worker) on a free port with a scratch data dir, then drives it with wrk
(Debian's package) from a separate process: 16 connections, 2 threads, DURATION seconds per
endpoint. Each simulation is measured twice: its default request (what a chapter page shows first;
cached after the first call) and a slider drag (a Lua script sends a new value of one slider on
every request, so the model really runs). Ratios are to /healthz measured in the same run, because
this machine is shared and absolute numbers drift.

Usage: .venv/bin/python benchmarks/simulations/load.py [--duration 5] [--out benchmarks/simulations/results.json]
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import simulations  # noqa: E402
from simulations.params import params_schema  # noqa: E402

CONNECTIONS, THREADS = 16, 2
DRAG_SCRIPT = """
local field, low, high, integer = "{field}", {low}, {high}, {integer}
math.randomseed(42)
request = function()
  local value = low + math.random() * (high - low)
  if integer then value = math.floor(value) end
  return wrk.format("GET", "{path}?" .. field .. "=" .. value, {{["HX-Request"] = "true"}})
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_wrk(output: str) -> dict:
    def millis(text: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": millis(latency["50"]),
        "p99_ms": millis(latency["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def wrk(url: str, duration: int, script: str | None = None, headers: dict | None = None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
            command += ["-s", lua.name]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    return parse_wrk(output)


def drag_script(name: str) -> str:
    """A Lua script that moves the first numeric slider of `name` to a random value per request."""
    properties = params_schema(simulations.REGISTRY[name].Params)["properties"]
    field, prop = next((f, p) for f, p in properties.items() if p.get("type") in ("integer", "number"))
    return DRAG_SCRIPT.format(
        field=field, low=prop["minimum"], high=prop["maximum"],
        integer="true" if prop["type"] == "integer" else "false", path=f"/simulations/{name}",
    )


def machine() -> dict:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.*)", cpu)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per endpoint (default 5)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "COURSE_DATA_DIR": tempfile.mkdtemp(prefix="bench-")}
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        health = wrk(f"{base}/healthz", args.duration)
        rows = []
        for name in simulations.REGISTRY:
            default = wrk(f"{base}/simulations/{name}", args.duration, headers={"HX-Request": "true"})
            drag = wrk(base, args.duration, script=drag_script(name))
            rows.append({
                "name": name,
                "default": default | {"ratio_to_healthz": round(default["requests_per_s"] / health["requests_per_s"], 3)},
                "drag": drag | {"ratio_to_healthz": round(drag["requests_per_s"] / health["requests_per_s"], 3)},
            })
            print(f"{name:15s} default {default['requests_per_s']:8.0f} req/s p99 {default['p99_ms']:6.1f} ms | "
                  f"drag {drag['requests_per_s']:8.0f} req/s p99 {drag['p99_ms']:6.1f} ms", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)

    report = {
        "command": "make bench-simulations  (.venv/bin/python benchmarks/simulations/load.py)",
        "setup": f"one uvicorn worker; wrk -t{THREADS} -c{CONNECTIONS} -d{args.duration}s from another process",
        "machine": machine(),
        "healthz": health,
        "simulations": rows,
        "targets": {"default_ratio_to_healthz_min": 0.6, "default_p99_ms_max": 25},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"healthz {health['requests_per_s']:.0f} req/s p99 {health['p99_ms']:.1f} ms; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
