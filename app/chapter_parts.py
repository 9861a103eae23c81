"""The pieces a chapter page is assembled from, each rendered once and kept: the page around the per-learner
parts (per chapter, header and path), the chapter's text with its simulations at their defaults, its lab
widgets as a learner who has done nothing sees them, each quiz question per option order and answer, each
exercise not yet tried. What a learner's page adds to them is string joins, not template renders.

Every cached piece carries app.chapter_page's CSRF placeholder where a token goes; nothing here knows a learner.
"""

import re
import sys
import time
from weakref import WeakKeyDictionary

from markupsafe import Markup

from app.content import Chapter, Option
from app.exercises.views import exercise_view
from app.identity import signed_in_user
from app.lab_runs.service import bases
from app.lab_runs.views import mount_labs
from app.page_cache import PageCache
from app.simulation_runs import run_simulation
from app.simulation_views import mount_simulations

TOKEN_PLACEHOLDER = "csrf-token-placeholder-d41d8cd9"
# Where a per-learner part goes in the page around it (chapter.html rendered with these in its slots).
_SLOT = "<!--chapter-slot:{}-d41d8cd9-->"
_SLOTS = re.compile(r"<!--chapter-slot:(\w+)-d41d8cd9-->")

# The quiz questions per (question, option order, answer) only fill (up to 5! orders × 6 states for a 5-option
# question): kept in a PageCache of QUIZ_PART_BYTES, least recently used out. In the soak benchmark they were
# the live heap's last creep.
QUIZ_PART_BYTES = 4_000_000
# Pages around the parts: one per chapter, header (role) and path (a page re-rendered by a slider form or an
# exercise form keeps its own address in the header's "Log in" link): ~60 kB each, ~130 of them.
SKELETON_BYTES = 16_000_000
# Which lab bases are built, per (data dir, bases setting): (when looked, ready flags). Looked again at most once
# a BASES_CHECK_S: a stat per base on every view was ~50 µs under load, and a base appears only when an admin builds one.
BASES_CHECK_S = 1.0
_BASES_SEEN: dict[tuple, tuple[float, tuple[bool, ...]]] = {}


class PlaceholderRequest:
    """Stands in for a request while a shared part renders: csrf_field() reads the token from here."""

    scope = {"state": {"csrf_token": TOKEN_PLACEHOLDER}}


# templates → {key: part}: what is the same for everyone is kept per Jinja environment (a test builds many apps).
_PARTS: WeakKeyDictionary = WeakKeyDictionary()


def _shared_part(templates, key: tuple, render):
    parts = _PARTS.setdefault(templates, {})
    if key not in parts:
        parts[key] = render()
    return parts[key]


def bounded_parts(templates, name: str, max_bytes: int, sizeof=sys.getsizeof) -> PageCache:
    """The PageCache `name` of this Jinja environment."""
    parts = _PARTS.setdefault(templates, {})
    cache = parts.get(name)
    if cache is None:  # dict.setdefault is atomic: two first views on two threads keep the same cache
        cache = parts.setdefault(name, PageCache(max_bytes, sizeof))
    return cache


def bases_ready(settings) -> tuple[bool, ...]:
    """Which lab bases this server has built, a part of every cached page's key: the lab forms list them, and a
    base built while the server runs (`course-lab base import-smollm2`) is no write of any learner's."""
    where, now = (settings.data_dir, settings.lab_bases), time.monotonic()
    looked, ready = _BASES_SEEN.get(where, (-BASES_CHECK_S, ()))
    if now - looked >= BASES_CHECK_S:
        ready = tuple(base.ready for base in bases(settings))
        _BASES_SEEN[where] = (now, ready)
    return ready


def default_body(templates, chapter: Chapter) -> Markup:
    """The chapter's text with its simulations at their defaults (lab widgets still as markers)."""
    return _shared_part(
        templates, ("body", chapter.slug), lambda: mount_simulations(templates, PlaceholderRequest(), chapter, {})
    )


def blank_labs_body(templates, request, chapter: Chapter, settings, sessions) -> str:
    """default_body with its lab widgets as a learner sees them who has no runs, sweeps or keys (per built bases)."""
    key = ("blank-labs", chapter.slug, bases_ready(settings))
    return _shared_part(templates, key, lambda: mount_labs(templates, request, default_body(templates, chapter),
                                                           settings, sessions, set()))


def plotly_url(assets, templates, chapter: Chapter) -> str | None:
    """The Plotly bundle the chapter's charts need, decided from the trace types of each simulation's figure."""

    def decide() -> str | None:
        if not chapter.meta.simulations:
            return None
        figures = (run_simulation(ref.name, {}).figure for ref in chapter.meta.simulations)
        return assets.plotly_url({trace.get("type", "scatter") for figure in figures for trace in figure["data"]})

    return _shared_part(templates, ("plotly", chapter.slug), decide)


def quiz_question(templates, chapter: Chapter, question_index: int, options: list[Option], chosen: str | None) -> str:
    """One quiz question in this option order, answered `chosen` (or not)."""
    key = (chapter.slug, question_index, tuple(option.id for option in options), chosen)
    cache = bounded_parts(templates, "quiz", QUIZ_PART_BYTES)
    part = cache.get(key)
    if part is None:
        context = {"chapter": chapter, "question": chapter.meta.quiz[question_index], "options": options,
                   "chosen": chosen, "just_answered": False, "request": PlaceholderRequest()}
        part = templates.get_template("_quiz_question.html").render(context)
        cache.put(key, part)
    return part


def exercises_html(templates, chapter: Chapter, states: dict, refused: dict) -> str:
    """The chapter's exercises; one never tried (nor refused just now) is the same for everyone and kept."""
    template = templates.get_template("_exercise.html")

    def render(exercise) -> str:
        view = exercise_view(chapter, exercise, states.get(exercise.id), refused.get(exercise.id))
        context = {"chapter": chapter, "view": view, "just_answered": False, "request": PlaceholderRequest()}
        return template.render(context)

    return "".join(
        render(exercise) if exercise.id in states or exercise.id in refused
        else _shared_part(templates, ("exercise", chapter.slug, exercise.id), lambda: render(exercise))
        for exercise in chapter.meta.exercises
    )


def skeleton(templates, request, chapter: Chapter, context: dict) -> tuple[str, ...]:
    """chapter.html around the per-learner parts, split at their slots: (text, slot name, text, …, text).

    Kept per chapter, header (the signed-in role decides its links) and path (its "Log in" link comes back
    here); the request's CSRF token must already be the placeholder."""
    user = signed_in_user(request)
    key = (chapter.slug, user.role if user else None, request.url.path)
    cache = bounded_parts(templates, "skeletons", SKELETON_BYTES, sizeof=lambda parts: sum(map(sys.getsizeof, parts)))
    parts = cache.get(key)
    if parts is None:
        slots = {name: Markup(_SLOT.format(name)) for name in ("chapter_html", "quiz_html", "exercises_html")}
        html = templates.get_template("chapter.html").render({**context, **slots, "request": request})
        parts = tuple(_SLOTS.split(html))
        cache.put(key, parts)
    return parts


def assemble(parts: tuple[str, ...], fills: dict[str, str]) -> str:
    """The skeleton's texts with each slot filled from `fills`."""
    return "".join(fills[piece] if index % 2 else piece for index, piece in enumerate(parts))
