"""Load benchmark of one chapter page: this checkout against a baseline commit (main), side by side.

For each side: start `course serve` (one uvicorn worker) on a free loopback port with a scratch data
dir, open the chapter once to get a learner's cookies, then drive `GET /chapters/SLUG` with those
cookies from wrk (Debian's package): 16 connections, 2 threads, DURATION seconds, asking for brotli
or gzip like a browser. The baseline is a temporary `git worktree` of the given commit run with this
checkout's virtualenv, so both sides share the machine's noise; the ratio is what the target is on.

Usage: .venv/bin/python benchmarks/chapter/load.py [--baseline main] [--slug prompting-has-limits]
                                                   [--duration 15] [--rounds 2] [--port 18500]
"""

import argparse
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _sibling(name: str):
    """Another benchmark's module (benchmarks/ is no package): its server start and wrk helpers."""
    spec = importlib.util.spec_from_file_location(f"{name}_load", ROOT / "benchmarks" / name / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


simulations_load, cohort_load = _sibling("simulations"), _sibling("cohort")
free_port, machine, wrk = simulations_load.free_port, simulations_load.machine, simulations_load.wrk

BROWSER_ENCODINGS = "gzip, deflate, br, zstd"


def serve(checkout: Path, port: int) -> subprocess.Popen:
    # A baseline's worktree has no built static files: it serves this checkout's (built by make setup).
    env = {**os.environ, "COURSE_DATA_DIR": tempfile.mkdtemp(prefix="chapter-bench-"), "PYTHONPATH": str(checkout),
           "COURSE_ASSETS_DIR": str(ROOT / "build" / "assets")}
    env.pop("COURSE_DATABASE_URL", None)
    return cohort_load.start_server(env, port, workers=1, cwd=checkout)


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, from /proc (fields 14 and 15 of its stat line)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(checkout: Path, slug: str, duration: int, port: int | None = None) -> dict:
    port = port or free_port()
    server = serve(checkout, port)
    try:
        url = f"http://127.0.0.1:{port}/chapters/{slug}"
        first = httpx.get(url, headers={"Accept-Encoding": BROWSER_ENCODINGS})
        first.raise_for_status()
        cookie = "; ".join(f"{name}={value}" for name, value in first.cookies.items())
        page = httpx.get(url, headers={"Cookie": cookie, "Accept-Encoding": BROWSER_ENCODINGS})
        cpu_before = server_cpu_s(server.pid)
        result = wrk(url, duration, headers={"Cookie": cookie, "Accept-Encoding": BROWSER_ENCODINGS})
        cpu_ms = (server_cpu_s(server.pid) - cpu_before) * 1000
        return result | {
            # CPU the server spent per request: unlike req/s, hardly moved by other work on a shared machine.
            "server_cpu_ms_per_request": round(cpu_ms / (result["requests_per_s"] * duration), 3),
            "content_encoding": page.headers.get("content-encoding", "identity"),
            "page_bytes_on_the_wire": int(page.headers.get("content-length") or len(page.content)),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="commit or branch to compare with (default main)")
    parser.add_argument("--slug", default="prompting-has-limits")
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per side and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (baseline, this) per side")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--port", type=int, default=None,
                        help="serve on this port and the next ones, one per server (default: free ports)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    commit = subprocess.run(["git", "rev-parse", args.baseline], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    this = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    baseline_dir = Path(tempfile.mkdtemp(prefix="chapter-bench-baseline-")) / "checkout"
    subprocess.run(["git", "worktree", "add", "--detach", str(baseline_dir), commit], cwd=ROOT, check=True,
                   capture_output=True)
    host = machine()
    rounds = []
    try:
        ports = iter(range(args.port, args.port + 2 * args.rounds)) if args.port else itertools.repeat(None)
        for _ in range(args.rounds):
            baseline = measure(baseline_dir, args.slug, args.duration, next(ports))
            current = measure(ROOT, args.slug, args.duration, next(ports))
            rounds.append({"baseline": baseline, "this_checkout": current, "load_average_after": os.getloadavg(),
                           "ratio_req_per_s": round(current["requests_per_s"] / baseline["requests_per_s"], 2),
                           "ratio_server_cpu_per_request": round(
                               baseline["server_cpu_ms_per_request"] / current["server_cpu_ms_per_request"], 2)})
            print(json.dumps(rounds[-1]), flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline_dir)], cwd=ROOT, capture_output=True)

    report = {
        "command": f".venv/bin/python benchmarks/chapter/load.py --baseline {args.baseline} --slug {args.slug} "
        f"--duration {args.duration} --rounds {args.rounds}",
        "setup": (
            "one uvicorn worker each (course serve --workers 1, SQLite in a scratch data dir); wrk -t2 -c16 "
            f"-d{args.duration}s with one learner's cookies and Accept-Encoding '{BROWSER_ENCODINGS}'; baseline and "
            "this checkout alternate, on the same machine, in one run"
        ),
        "baseline_commit": commit,
        "this_commit": this,
        "machine": host,
        "rounds": rounds,
        "targets": {"ratio_req_per_s_min": 3.0, "p99_ms_max": 50},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
