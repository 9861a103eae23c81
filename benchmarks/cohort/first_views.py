"""Server CPU of a chapter's FIRST view, the common case in a class (1,000 learners × 10 chapters): a signed-in
learner's very first page (their browser is claimed, the visit written), their first view of another chapter,
a first view after they answered in that chapter and after they answered elsewhere (the page then reads what
they wrote), and a repeat view. One request at a time, on SQLite with one worker; with --baseline COMMIT that
commit's server (a temporary `git worktree`) runs beside this checkout's, the phases alternated round by round.

Usage: .venv/bin/python benchmarks/cohort/first_views.py [--learners 300] [--rounds 2] [--baseline COMMIT]
           [--out FILE]
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.cohort import load  # noqa: E402

CHAPTERS = load.COURSE.chapters


class Server:
    """`course serve` from a checkout on a scratch SQLite database, with an instructor's cohort to enrol into."""

    def __init__(self, checkout: Path, label: str):
        self.label = label
        data_dir = Path(tempfile.mkdtemp(prefix=f"cohort-first-views-{label}-"))
        self.db_url = f"sqlite:///{data_dir / 'course.db'}"
        self.env = load.server_env(data_dir, self.db_url, "memory://", checkout)
        port = load.free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.process = load.start_server(self.env, port, 1, cwd=checkout)
        _teacher, cohort = load.instructor_cohort(self.base, self.env)
        self.cohort_id = cohort["id"]
        self.enrolled = 0

    async def learners(self, count: int) -> list:
        learners = [load.SimulatedLearner(self.base, self.enrolled + n) for n in range(count)]
        self.enrolled += count
        load.enrol(self.db_url, self.cohort_id, learners)
        await asyncio.gather(*(learner.sign_in(load.SECRET_KEY) for learner in learners))
        return learners

    async def views(self, learners, chapter_of) -> dict:
        """Server CPU ms per view and median latency of each learner opening `chapter_of(index)`."""
        cpu_before, latencies = load.tree_cpu_s(self.process.pid), []
        for index, learner in enumerate(learners):
            began = time.perf_counter()
            reply = await learner.request("GET", chapter_of(index).url)
            latencies.append((time.perf_counter() - began) * 1000)
            if reply.status_code != 200:
                raise RuntimeError(f"{self.label}: a chapter view answered {reply.status_code}")
        cpu_ms = (load.tree_cpu_s(self.process.pid) - cpu_before) * 1000 / len(learners)
        return {"server_cpu_ms": round(cpu_ms, 2), "p50_ms": round(statistics.median(latencies), 2)}


async def _answer_first_question(learners, offset: int) -> None:
    for index, learner in enumerate(learners):
        chapter = CHAPTERS[(index + offset) % len(CHAPTERS)]
        question = chapter.meta.quiz[0]
        await learner.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", {"option": question.options[0].id})


async def one_round(server: Server, count: int) -> dict:
    learners = await server.learners(count)
    at = lambda offset: lambda index: CHAPTERS[(index + offset) % len(CHAPTERS)]  # noqa: E731
    out = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    out["very_first_view"] = await server.views(learners, at(0))
    out["first_view_of_another_chapter"] = await server.views(learners, at(1))
    await _answer_first_question(learners, 2)
    out["first_view_after_answering_in_it"] = await server.views(learners, at(2))
    out["first_view_after_answering_elsewhere"] = await server.views(learners, at(3))
    out["repeat_view"] = await server.views(learners, at(3))
    await asyncio.gather(*(learner.client.close() for learner in learners))
    return out


async def measure(servers: list[Server], args) -> dict:
    runs: dict[str, list] = {server.label: [] for server in servers}
    for _ in range(args.rounds):
        for server in servers:
            result = await one_round(server, args.learners)
            print(server.label, json.dumps(result), flush=True)
            runs[server.label].append(result)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=300, help="new learners per round and server")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results-first-views.json"))
    args = parser.parse_args()
    host = load.machine()
    checkouts, worktree = [(load.ROOT, "this_checkout")], None
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", args.baseline], cwd=load.ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        worktree = Path(tempfile.mkdtemp(prefix="cohort-first-views-baseline-")) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), commit], cwd=load.ROOT, check=True,
                       capture_output=True)
        checkouts.insert(0, (worktree, f"baseline_{commit[:7]}"))
    servers: list[Server] = []
    try:
        servers = [Server(checkout, label) for checkout, label in checkouts]
        runs = asyncio.run(measure(servers, args))
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=60)
        if worktree:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=load.ROOT, capture_output=True)
    command = (f".venv/bin/python benchmarks/cohort/first_views.py --learners {args.learners} --rounds {args.rounds}"
               + (f" --baseline {args.baseline}" if args.baseline else ""))
    args.out.write_text(json.dumps({"command": command, "machine": host, "runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
