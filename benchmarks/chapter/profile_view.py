"""Where one chapter view spends its time: cProfile over the ASGI app in process, for a learner with
quiz answers, exercise attempts, lab runs and a finished sweep (the heaviest ordinary reader of chapter 0).

Sync handlers are run on the event loop's thread here (only here), so the profile sees them whole. Prints
the top functions by cumulative and by own time, and the mean wall and CPU time per view without the profiler
(CPU time moves less than wall time on a shared machine).

Usage: .venv/bin/python benchmarks/chapter/profile_view.py [--slug prompting-has-limits] [--views 300]
                                                           [--database-url URL]
"""

import argparse
import asyncio
import concurrent.futures
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.lab_runs import store  # noqa: E402
from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.simulation_runs import RUNS  # noqa: E402
from app.sweeps import store as sweep_store  # noqa: E402


class _InlineExecutor(concurrent.futures.Executor):
    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def _inline_threadpool() -> None:
    """Run sync handlers, dependencies and the chapter views' threads' work on the loop's thread, so cProfile
    (one thread) sees them."""
    import fastapi.dependencies.utils
    import fastapi.routing

    from app import chapter_page

    async def inline(func, *args, **kwargs):
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline
    fastapi.dependencies.utils.run_in_threadpool = inline
    chapter_page._VIEWS = _InlineExecutor()


async def _learner_with_history(client: httpx.AsyncClient, app, slug: str) -> None:
    """Quiz answers, exercise attempts, two runs and a finished sweep for the client's learner."""
    page = await client.get(f"/chapters/{slug}")
    page.raise_for_status()
    headers = {"x-csrftoken": client.cookies["csrftoken"]}
    chapter = app.state.course.get(slug)
    for question in chapter.meta.quiz[:3]:
        await client.post(f"/api/chapters/{slug}/quiz/{question.id}", json={"option": question.options[0].id},
                          headers=headers)
    for exercise in chapter.meta.exercises[:2]:
        await client.post(f"/api/chapters/{slug}/exercises/{exercise.id}", json={"answer": "1"}, headers=headers)
    from app.identity import current_visitor  # noqa: F401  (the learner id comes from the cookie)

    learner = app.state.learner_for_profile = _learner_id(app, client)
    sessions, run_dir = app.state.sessions, Path(tempfile.mkdtemp(prefix="profile-runs-"))
    for n in range(2):
        run = store.create_run(sessions, uuid.uuid4().hex, learner, "legal-format", "base", {}, run_dir / f"r{n}",
                               "local")
        store.finish(sessions, run.id, "succeeded", None, {"compliance_after": 0.95})
    runs = [(uuid.uuid4().hex, examples, run_dir / f"s{examples}") for examples in (0, 32, 128)]
    sweep_store.create_sweep(sessions, uuid.uuid4().hex, learner, "legal-format", "base", {}, runs, "local")
    for run_id, _, _ in runs:
        store.finish(sessions, run_id, "succeeded", None, {"compliance_after": 0.9})


def _learner_id(app, client: httpx.AsyncClient) -> str:
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(app.state.settings.secret_key, salt="learner-cookie").loads(client.cookies["learner"])


async def _views(client: httpx.AsyncClient, slug: str, count: int, path: str | None = None) -> None:
    """`count` GETs straight into the ASGI app (no HTTP client in the profile), with the client's cookies."""
    app = client._transport.app
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items()).encode()
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": path or f"/chapters/{slug}",
             "raw_path": (path or f"/chapters/{slug}").encode(), "query_string": b"", "root_path": "",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie), (b"accept-encoding", b"gzip, deflate, br, zstd")]}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses = []

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(count):
        await app(dict(scope), receive, send)
    assert set(statuses) == {200}, statuses


async def main_async(args) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="chapter-profile-"))
    settings = Settings(data_dir=data_dir, **({"database_url": args.database_url} if args.database_url else {}))
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    RUNS.warm_defaults()
    _inline_threadpool()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        await _learner_with_history(client, app, args.slug)
        await _views(client, args.slug, 20)  # warm: templates compiled, parts cached
        started, cpu = time.perf_counter(), time.process_time()
        await _views(client, args.slug, args.views, args.path)
        per_view = (time.perf_counter() - started) / args.views * 1000
        cpu_per_view = (time.process_time() - cpu) / args.views * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        await _views(client, args.slug, args.views, args.path)
        profiler.disable()
    app.state.visits.stop()
    print(f"{per_view:.2f} ms wall, {cpu_per_view:.2f} ms CPU per view (in process, no profiler, {args.views} views)")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_callees(args.callees)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="prompting-has-limits")
    parser.add_argument("--path", default=None, help="profile this path instead (e.g. /healthz)")
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--callees", default="render_chapter|mount_labs|current_visitor")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a scratch data dir")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
