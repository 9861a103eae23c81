"""What /v1 costs a request before any model runs: the bearer key's lookup (prefix, constant-time hash compare,
the account's learners), the limits in the rate-limit store, and whole requests that stop short of the model
(listing models; a chat completion for a model that is not the caller's, checked and refused with a 404), next
to the app's cheapest request (/healthz) and the cookie-authenticated list of lab runs. In process (FastAPI's
TestClient, SQLite in a scratch dir), compared as ratios within one run because the machine is shared.

Usage: .venv/bin/python benchmarks/openai_api/bench.py [--requests 300]
Writes benchmarks/openai_api/results.json with the machine and its load average.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from fastapi.testclient import TestClient  # noqa: E402

from app.db import migrate  # noqa: E402
from app.main import create_app  # noqa: E402
from app.serving.keys import authenticate_key  # noqa: E402
from app.serving.limits import admit, release  # noqa: E402
from app.settings import Settings  # noqa: E402

CHAT = {"model": "ft:tiny:legal-format:00000000", "max_tokens": 64, "temperature": 0.7,
        "messages": [{"role": "system", "content": "Answer in numbered items."},
                     {"role": "user", "content": "My landlord is keeping my deposit. What should I do?"}]}


def summary(times: list[float]) -> dict:
    times = sorted(times)
    n = len(times)
    return {"n": n, "p50_ms": round(statistics.median(times), 3), "p99_ms": round(times[int(0.99 * (n - 1))], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    n = parser.parse_args().requests
    scratch = Path(tempfile.mkdtemp(prefix="openai-api-bench-"))
    settings = Settings(data_dir=scratch / "data", serving_tokens_per_minute=100_000_000)
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    client = TestClient(app)
    client.get("/healthz")
    csrf = {"x-csrftoken": client.cookies["csrftoken"]}
    key = client.post("/api/keys", json={"name": "bench"}, headers=csrf).json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/chat/completions", json=CHAT, headers=bearer).status_code == 404

    requests = {
        "healthz": lambda: client.get("/healthz"),
        "lab_runs_with_cookie": lambda: client.get("/api/labs/runs"),
        "v1_models": lambda: client.get("/v1/models", headers=bearer),
        "v1_chat_checked_then_404": lambda: client.post("/v1/chat/completions", json=CHAT, headers=bearer),
    }
    # Interleaved, one request of each in turn, so drift in the machine's load hits them alike.
    times: dict[str, list[float]] = {name: [] for name in requests}
    for _ in range(n):
        for name, call in requests.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000)
    results = {name: summary(values) for name, values in times.items()}

    parts: dict[str, list[float]] = {"authenticate_key": [], "admit_and_release": []}
    for _ in range(n):
        start = time.perf_counter()
        owner = authenticate_key(app.state.sessions, key)
        parts["authenticate_key"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        admit(app.state.limiter, owner.key_id, 100, 100_000_000, 1_000)
        release(app.state.limiter, owner.key_id)
        parts["admit_and_release"].append((time.perf_counter() - start) * 1000)
    results.update({name: summary(values) for name, values in parts.items()})

    p50 = {name: value["p50_ms"] for name, value in results.items()}
    results["ratios"] = {
        "v1_models_over_lab_runs_with_cookie_p50": round(p50["v1_models"] / p50["lab_runs_with_cookie"], 2),
        "v1_chat_checked_then_404_over_healthz_p50": round(p50["v1_chat_checked_then_404"] / p50["healthz"], 2),
    }
    results["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                          "note": "shared machine, 8 engineers at once: compare the ratios, not the absolute times"}
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
