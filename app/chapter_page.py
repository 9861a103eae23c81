"""The chapter page, assembled from parts rendered once: the chapter's text with its simulations at their
defaults (the same for everyone until the next deploy) and each quiz question in each answered state.
Per request only the small per-learner parts are added: the quiz answers (each question in this learner's
option order), the exercises' states, the lab widgets, the header.

A chapter at its defaults is kept whole per learner (app.page_cache) while the learner's content version
is unchanged, so a repeat view costs one small read. Cached parts and pages carry a placeholder where the
CSRF token goes; the finished page gets this browser's token. The finished page is kept too, as the bytes
sent, in the encoding this browser accepts: a repeat view neither copies, encodes nor compresses ~70,000
characters again (that was ~0.4 ms of a ~1.3 ms view, most of it in the allocator and page faults).
"""

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from weakref import WeakKeyDictionary

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from app.compression import choose_encoding, compress
from app.content import Chapter, Option
from app.exercises.service import exercise_states
from app.exercises.views import exercise_views
from app.identity import Visitor, current_visitor, load_current_user, visitor_knowing
from app.lab_runs.views import mount_labs
from app.page_cache import CACHE_BYTES, PageCache, content_versions, learner_rows, versions_of
from app.progress import latest_answers
from app.quiz import option_orders
from app.simulation_runs import run_simulation
from app.simulation_views import mount_simulations

TOKEN_PLACEHOLDER = "csrf-token-placeholder-d41d8cd9"


class _PlaceholderRequest:
    """Stands in for a request while a shared part renders: csrf_field() reads the token from here."""

    scope = {"state": {"csrf_token": TOKEN_PLACEHOLDER}}


# templates → {key: rendered part}: one entry per chapter; and the quiz questions per (question, option order,
# answer), which only fill (up to 5! orders × 6 states for a 5-option question): in a PageCache of
# QUIZ_PART_BYTES, least recently used out. In the soak benchmark they were the live heap's last creep.
_PARTS: WeakKeyDictionary = WeakKeyDictionary()
QUIZ_PART_BYTES = 4_000_000
# Finished pages (the bytes sent, compressed: ~22 kB each) per (page, CSRF token, encoding): ~270 browsers'
# latest views. One that fell out costs what every view cost before: the token put in, encoded, compressed.
FINISHED_BYTES = 6_000_000


def _shared_part(templates, key: tuple, render) -> str:
    parts = _PARTS.setdefault(templates, {})
    if key not in parts:
        parts[key] = render()
    return parts[key]


def _default_body(templates, chapter: Chapter) -> Markup:
    return _shared_part(
        templates, ("body", chapter.slug), lambda: mount_simulations(templates, _PlaceholderRequest(), chapter, {})
    )


def _plotly_url(assets, templates, chapter: Chapter) -> str | None:
    """The Plotly bundle the chapter's charts need, decided from the trace types of each simulation's figure."""

    def decide() -> str | None:
        if not chapter.meta.simulations:
            return None
        figures = (run_simulation(ref.name, {}).figure for ref in chapter.meta.simulations)
        return assets.plotly_url({trace.get("type", "scatter") for figure in figures for trace in figure["data"]})

    return _shared_part(templates, ("plotly", chapter.slug), decide)


def _quiz_question(
    templates, chapter: Chapter, question_index: int, options: list[Option], chosen: str | None
) -> str:
    context = {"chapter": chapter, "question": chapter.meta.quiz[question_index], "options": options,
               "chosen": chosen, "just_answered": False, "request": _PlaceholderRequest()}
    key = (chapter.slug, question_index, tuple(option.id for option in options), chosen)
    cache = _bounded_parts(templates, "quiz", QUIZ_PART_BYTES)
    part = cache.get(key)
    if part is None:
        part = templates.get_template("_quiz_question.html").render(context)
        cache.put(key, part)
    return part


def _bounded_parts(templates, name: str, max_bytes: int) -> PageCache:
    cache = _PARTS.setdefault(templates, {}).get(name)
    if cache is None:
        cache = _PARTS[templates][name] = PageCache(max_bytes)
    return cache


def _page_cache(templates) -> PageCache:
    return _bounded_parts(templates, "pages", CACHE_BYTES)


def _finished_pages(templates) -> PageCache:
    return _bounded_parts(templates, "finished", FINISHED_BYTES)


# A view's reads and writes run on a few threads of their own rather than in FastAPI's pool of 40: under 16
# connections up to 16 of those threads took turns at the GIL with the event loop, and anyio's hop costs more
# than asyncio's. In one A/B run (benchmarks/chapter, load ~18 on 2 cores) server CPU per view went
# 0.82 -> 0.43-0.63 ms. A cached view holds its thread ~0.2 ms, a fresh render a few ms: 4 threads keep up.
VIEW_THREADS = 4
_VIEWS = ThreadPoolExecutor(max_workers=VIEW_THREADS, thread_name_prefix="chapter-view")


async def chapter_view(request: Request, chapter: Chapter, states: dict[str, dict[str, str]]) -> HTMLResponse:
    """render_chapter, off the event loop (it reads and writes the database), on the chapter views' threads."""
    run = contextvars.copy_context().run
    return await asyncio.get_running_loop().run_in_executor(_VIEWS, run, render_chapter, request, chapter, states)


def render_chapter(
    request: Request,
    chapter: Chapter,
    states: dict[str, dict[str, str]],
    refused: dict[str, tuple[str, str]] | None = None,
) -> HTMLResponse:
    """The chapter page with its simulations at `states` (name → query); records the visit.

    `refused` (exercise id → (answer, message)) shows an answer that could not be checked beside its
    exercise, as typed, and answers 422."""
    app = request.app
    shown = {name: query for name, query in states.items() if query}
    visitor, versions = _visitor_and_versions(request, cacheable=not shown and not refused)
    app.state.visits.record(visitor.learner_id, chapter.slug)
    if versions == ():  # a new learner, whose first visit has just written its row: key the page by that row
        versions = content_versions(app.state.sessions, visitor.learner_ids)
    key = None
    if versions is not None:
        # The header shows links by role; the quiz's option order follows this browser's learner; the rest
        # is the learners' content, which their versions vouch for (a page's version: a new one replaces it).
        user = (visitor.user.id, visitor.user.role) if visitor.user else None
        key = (chapter.slug, visitor.learner_id, tuple(sorted(visitor.learner_ids)), user)
    token = request.scope["state"].get("csrf_token", "")
    if key is None:
        page = _render(request, chapter, visitor, shown, refused)
        return HTMLResponse(page.replace(TOKEN_PLACEHOLDER, token), status_code=422 if refused else 200)
    templates = app.state.templates
    encoding = choose_encoding(request.headers.get("accept-encoding", ""))
    finished_key = (key, token, encoding)
    body = _finished_pages(templates).get(finished_key, versions)
    if body is None:
        page = _page_cache(templates).get(key, versions)
        if page is None:
            page = _render(request, chapter, visitor, shown, refused)
            _page_cache(templates).put(key, page, versions)
        body = page.replace(TOKEN_PLACEHOLDER, token).encode()
        if encoding:
            body = compress(encoding, body)
        _finished_pages(templates).put(finished_key, body, versions)
    if encoding is None:
        return HTMLResponse(body)
    # Already encoded: app.compression passes it through as it is.
    return Response(body, media_type="text/html", headers={"Content-Encoding": encoding, "Vary": "Accept-Encoding"})


def _visitor_and_versions(request: Request, cacheable: bool) -> tuple[Visitor, tuple | None]:
    """This request's visitor and, for a page that may come from the cache, its learners' content versions
    (None: render it). An anonymous browser's learner is read once for both: its version, and whether an
    account has claimed it (then app.identity starts a new learner, whose versions are read anew)."""
    sessions = request.app.state.sessions
    if not cacheable:
        return current_visitor(request), None
    if load_current_user(request) is None:
        learner = request.scope["state"]["learner"].get()
        rows = learner_rows(sessions, [learner])
        visitor = visitor_knowing(request, rows[0][3] if rows else None)
        if visitor.learner_ids == (learner,):
            return visitor, versions_of(rows)
    else:
        visitor = current_visitor(request)
    return visitor, content_versions(sessions, visitor.learner_ids)


def _render(request: Request, chapter: Chapter, visitor, shown: dict, refused: dict | None) -> str:
    """The page with the CSRF placeholder where this browser's token goes."""
    state = request.scope["state"]
    token, state["csrf_token"] = state.get("csrf_token", ""), TOKEN_PLACEHOLDER
    try:
        return _render_parts(request, chapter, visitor, shown, refused)
    finally:
        state["csrf_token"] = token


def _render_parts(request: Request, chapter: Chapter, visitor, shown: dict, refused: dict | None) -> str:
    app = request.app
    templates, course, sessions = app.state.templates, app.state.course, app.state.sessions
    body = mount_simulations(templates, request, chapter, shown) if shown else _default_body(templates, chapter)
    answers = latest_answers(sessions, visitor.learner_ids, chapter.slug)
    orders = option_orders(visitor.learner_id, chapter)
    quiz = "".join(
        _quiz_question(templates, chapter, index, orders[question.id], answers.get(question.id))
        for index, question in enumerate(chapter.meta.quiz)
    )
    exercises = exercise_views(chapter, exercise_states(sessions, visitor.learner_ids, chapter.slug), refused or {})
    previous, following = course.neighbours(chapter)
    return templates.get_template("chapter.html").render(
        {
            "request": request,
            "chapter": chapter,
            "chapter_html": mount_labs(templates, request, body, app.state.settings, sessions, set(visitor.learner_ids)),
            "quiz_html": Markup(quiz),
            "plotly_url": _plotly_url(app.state.assets, templates, chapter),
            "course": course,
            "previous": previous,
            "next": following,
            "exercises": exercises,
        }
    )
