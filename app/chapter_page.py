"""The chapter page, assembled from parts rendered once (app.chapter_parts): the page around them, the chapter's
text with its simulations at their defaults (the same for everyone until the next deploy), each quiz question in
each answered state, each exercise not yet tried. Per request the parts are joined in this learner's quiz order;
only what the learner wrote (answers, attempts, runs) is read, and nothing when their content version says they
have written nothing yet (a learner's first views).

A chapter at its defaults is kept whole per learner who has written something (app.page_cache) while the
learner's content version is unchanged, so a repeat view costs one small read. Cached parts and pages carry a placeholder where the
CSRF token goes; the finished page gets this browser's token. The finished page is kept too, as the bytes
sent, in the encoding this browser accepts: a repeat view neither copies, encodes nor compresses ~70,000
characters again (that was ~0.4 ms of a ~1.3 ms view, most of it in the allocator and page faults).
"""

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from app import chapter_parts as parts
from app.chapter_parts import TOKEN_PLACEHOLDER
from app.compression import choose_encoding, compress
from app.content import Chapter
from app.exercises.service import exercise_states
from app.identity import Visitor, current_visitor, load_current_user, visitor_knowing
from app.lab_runs.views import mount_labs
from app.page_cache import CACHE_BYTES, PageCache, content_versions, learner_rows, versions_of
from app.progress import latest_answers
from app.quiz import option_orders
from app.simulation_views import mount_simulations

# Finished pages (the bytes sent, compressed: ~22 kB each) per (page, CSRF token, encoding): ~270 browsers'
# latest views. One that fell out costs what every view cost before: the token put in, encoded, compressed.
FINISHED_BYTES = 6_000_000


def _page_cache(templates) -> PageCache:
    return parts.bounded_parts(templates, "pages", CACHE_BYTES)


def _finished_pages(templates) -> PageCache:
    return parts.bounded_parts(templates, "finished", FINISHED_BYTES)


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
    # A browser without a learner yet (a first visit, or a client that keeps no cookies): its page is not kept,
    # or clients that drop cookies would push real learners' pages out of the cache, one new learner a request.
    new_learner = versions == ()
    if new_learner:  # its first visit has just written its row: key the page by that row
        versions = content_versions(app.state.sessions, visitor.learner_ids)
    # Nothing written yet (a learner's first chapters): the page is everyone's parts in this learner's quiz order.
    blank = versions is not None and all(version == 0 for _, version in versions)
    key = None
    if versions is not None:
        # The header shows links by role, and its "Log in" link comes back to this address (a slider's address
        # at its defaults shows the same chapter); the quiz's option order follows this browser's learner; the
        # rest is the learners' content, which their versions vouch for (a page's version: a new one replaces it).
        user = (visitor.user.id, visitor.user.role) if visitor.user else None
        key = (request.url.path, visitor.learner_id, tuple(sorted(visitor.learner_ids)), user)
        page_version = (versions, parts.bases_ready(app.state.settings))
    token = request.scope["state"].get("csrf_token", "")
    if key is None:
        page = _render(request, chapter, visitor, shown, refused, blank)
        return HTMLResponse(page.replace(TOKEN_PLACEHOLDER, token), status_code=422 if refused else 200)
    templates = app.state.templates
    encoding = choose_encoding(request.headers.get("accept-encoding", ""))
    finished_key = (key, token, encoding)
    body = None if new_learner else _finished_pages(templates).get(finished_key, page_version)
    if body is None:
        # A blank learner's page is joined from shared parts without a read: keeping it per learner would only
        # push out the pages of learners whose parts cost reads (1,000 learners × 10 chapters do not fit).
        page = None if blank else _page_cache(templates).get(key, page_version)
        if page is None:
            page = _render(request, chapter, visitor, shown, refused, blank)
            if not blank:
                _page_cache(templates).put(key, page, page_version)
        body = page.replace(TOKEN_PLACEHOLDER, token).encode()
        if encoding:
            body = compress(encoding, body)
        if not new_learner:
            _finished_pages(templates).put(finished_key, body, page_version)
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


def _render(request: Request, chapter: Chapter, visitor, shown: dict, refused: dict | None, blank: bool) -> str:
    """The page with the CSRF placeholder where this browser's token goes."""
    state = request.scope["state"]
    token, state["csrf_token"] = state.get("csrf_token", ""), TOKEN_PLACEHOLDER
    try:
        return _render_parts(request, chapter, visitor, shown, refused or {}, blank)
    finally:
        state["csrf_token"] = token


def _render_parts(request: Request, chapter: Chapter, visitor, shown: dict, refused: dict, blank: bool) -> str:
    """The page assembled from app.chapter_parts. `blank`: none of the visitor's learners has written anything a
    chapter shows (no answers, attempts, runs, sweeps or keys), so their parts are everyone's and nothing is read."""
    app = request.app
    templates, course, sessions, settings = app.state.templates, app.state.course, app.state.sessions, app.state.settings
    if shown:
        body = mount_labs(templates, request, mount_simulations(templates, request, chapter, shown), settings, sessions,
                          set(visitor.learner_ids))
    elif blank:
        body = parts.blank_labs_body(templates, request, chapter, settings, sessions)
    else:
        body = mount_labs(templates, request, parts.default_body(templates, chapter), settings, sessions,
                          set(visitor.learner_ids))
    answers = {} if blank else latest_answers(sessions, visitor.learner_ids, chapter.slug)
    orders = option_orders(visitor.learner_id, chapter)
    quiz = "".join(
        parts.quiz_question(templates, chapter, index, orders[question.id], answers.get(question.id))
        for index, question in enumerate(chapter.meta.quiz)
    )
    states = {} if blank or not chapter.meta.exercises else exercise_states(sessions, visitor.learner_ids, chapter.slug)
    previous, following = course.neighbours(chapter)
    skeleton = parts.skeleton(templates, request, chapter, {
        "chapter": chapter,
        "plotly_url": parts.plotly_url(app.state.assets, templates, chapter),
        "course": course,
        "previous": previous,
        "next": following,
        "exercises": bool(chapter.meta.exercises),
    })
    return parts.assemble(skeleton, {
        "chapter_html": str(body),
        "quiz_html": quiz,
        "exercises_html": parts.exercises_html(templates, chapter, states, refused),
    })
