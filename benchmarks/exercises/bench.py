"""What exercises cost a request: the checker alone, answering through the API next to answering a quiz
question (a write of the same kind), and a chapter page with three exercises next to the same page
without them. In process (FastAPI's TestClient, SQLite in a scratch dir), so the numbers are the app's
own work without a network; compared as ratios within one run, because the machine is shared.

Usage: .venv/bin/python benchmarks/exercises/bench.py [--requests 300]
Writes benchmarks/exercises/results.json with the machine and its load average.
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

from app.content import load_course  # noqa: E402
from app.db import migrate  # noqa: E402
from app.exercises.checker import check  # noqa: E402
from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.exercise_course import EXERCISE_CHAPTER, write_exercise_course  # noqa: E402

ANSWERS = {
    "lora-params": "65,536",
    "fix-line": '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello. Not legal advice."}]}',
    "regression-prompt": "Tell me a joke about penguins.",
}


def summary(times: list[float]) -> dict:
    times = sorted(times)
    n = len(times)
    return {"n": n, "p50_ms": round(statistics.median(times), 3), "p99_ms": round(times[int(0.99 * (n - 1))], 3)}


def timed_ms(fn, n: int) -> dict:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    n = args.requests
    scratch = Path(tempfile.mkdtemp(prefix="exercise-bench-"))
    settings = Settings(data_dir=scratch / "data")
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    with_exercises = load_course(write_exercise_course(scratch / "with"))
    without = load_course(ROOT / "chapters")
    chapter = with_exercises.chapters[EXERCISE_CHAPTER]
    question = chapter.meta.quiz[0]

    results: dict = {"checker_us": {}}
    for exercise in chapter.meta.exercises:
        timing = timed_ms(lambda e=exercise: check(e, ANSWERS[e.id]), n * 10)
        results["checker_us"][exercise.kind] = round(timing["p50_ms"] * 1000, 1)

    client = TestClient(app)
    client.get("/healthz")
    headers = {"x-csrftoken": client.cookies["csrftoken"]}
    app.state.course = with_exercises
    client.get(chapter.url)  # warm templates and the learner row
    results["answer_exercise"] = timed_ms(
        lambda: client.post(f"/api/chapters/{chapter.slug}/exercises/lora-params", json={"answer": 65536}, headers=headers), n
    )
    results["answer_quiz"] = timed_ms(
        lambda: client.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", json={"option": question.correct_option.id}, headers=headers), n
    )
    # Interleaved, one request of each in turn, so drift in the machine's load hits both alike.
    pages: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(n):
        for label, course in (("with", with_exercises), ("without", without)):
            app.state.course = course
            start = time.perf_counter()
            client.get(course.chapters[EXERCISE_CHAPTER].url)
            pages[label].append((time.perf_counter() - start) * 1000)
    results["chapter_page_with_3_exercises"] = summary(pages["with"])
    results["chapter_page_without_exercises"] = summary(pages["without"])
    results["ratios"] = {
        "answer_exercise_over_answer_quiz_p50": round(results["answer_exercise"]["p50_ms"] / results["answer_quiz"]["p50_ms"], 2),
        "chapter_page_with_over_without_exercises_p50": round(
            results["chapter_page_with_3_exercises"]["p50_ms"] / results["chapter_page_without_exercises"]["p50_ms"], 2
        ),
    }
    results["machine"] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "note": "shared machine under load from other engineers' test runs: compare ratios, not absolute times",
    }
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
