"""Bytes a real browser transfers to open each chapter: cold (empty cache) and on a return visit, for this
checkout and for a baseline commit (main) side by side.

Starts `course serve` (one worker, scratch data dir) for each side, then Debian's Chromium through
Playwright opens every chapter in a fresh browser context (cold cache) and waits for the network to go
idle; then opens it again in a new tab of the same context (a return visit: the HTTP cache is warm).
Bytes are Chromium's own count of what came over the wire (DevTools `Network.loadingFinished`
`encodedDataLength`: headers and compressed bodies), so compression and caching both show.

Usage: .venv/bin/python benchmarks/first_load/measure.py [--baseline main] [--out benchmarks/first_load/results.json]
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from app.content import load_course  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

_spec = importlib.util.spec_from_file_location("cohort_load", ROOT / "benchmarks/cohort/load.py")
cohort_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cohort_load)

COURSE = load_course(ROOT / "chapters")
TARGETS_KB = {"cold": 500, "return": 50}


def _visit(context, url: str) -> dict:
    """Open `url` in a new tab of `context`; bytes over the wire per resource type, and the request count."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    kinds: dict[str, str] = {}
    received: dict[str, int] = defaultdict(int)
    cdp.on("Network.responseReceived", lambda e: kinds.__setitem__(e["requestId"], e["type"]))
    cdp.on("Network.loadingFinished",
           lambda e: received.__setitem__(kinds.get(e["requestId"], "Other"), received[kinds.get(e["requestId"], "Other")] + e["encodedDataLength"]))
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(300)  # late requests (the favicon) finish too
    page.close()
    return {"bytes": sum(received.values()), "by_type": dict(received)}


def measure(base: str) -> list[dict]:
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for chapter in COURSE.chapters:
            context = browser.new_context()
            cold = _visit(context, base + chapter.url)
            warm = _visit(context, base + chapter.url)
            context.close()
            rows.append({"chapter": chapter.number, "slug": chapter.slug, "cold": cold, "return": warm,
                         "cold_kb": round(cold["bytes"] / 1000, 1), "return_kb": round(warm["bytes"] / 1000, 1)})
            print(f"{chapter.number} {chapter.slug:32s} cold {rows[-1]['cold_kb']:8.1f} kB  return {rows[-1]['return_kb']:7.1f} kB",
                  flush=True)
        browser.close()
    return rows


def measure_checkout(checkout: Path) -> list[dict]:
    env = {**os.environ, "COURSE_DATA_DIR": tempfile.mkdtemp(prefix="first-load-"), "PYTHONPATH": str(checkout),
           "COURSE_NODE_MODULES_DIR": str(ROOT / "node_modules")}
    env.pop("COURSE_DATABASE_URL", None)
    port = cohort_load.free_port()
    server = cohort_load.start_server(env, port, workers=1, cwd=checkout)
    try:
        return measure(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="commit to compare with; '' to measure this checkout only")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    host = cohort_load.machine()
    sides = {"this_checkout": measure_checkout(ROOT)}
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", args.baseline], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        baseline_dir = Path(tempfile.mkdtemp(prefix="first-load-baseline-")) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline_dir), commit], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            sides["baseline"] = measure_checkout(baseline_dir)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline_dir)], cwd=ROOT, capture_output=True)
    mine = sides["this_checkout"]
    report = {
        "command": f".venv/bin/python benchmarks/first_load/measure.py --baseline {args.baseline}",
        "setup": "Debian Chromium (headless, Playwright) against course serve on 127.0.0.1, one worker; cold = a fresh "
                 "browser context, return = a new tab in the same context; bytes = DevTools encodedDataLength summed",
        "baseline_commit": commit if args.baseline else None,
        "machine": host,
        "targets_kb": TARGETS_KB,
        "worst_kb": {"cold": max(r["cold_kb"] for r in mine), "return": max(r["return_kb"] for r in mine)},
        "chapters_over_target": {kind: [r["slug"] for r in mine if r[f"{kind}_kb"] > limit]
                                 for kind, limit in TARGETS_KB.items()},
        **sides,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
