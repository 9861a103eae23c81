"""The course pages: the home page with progress, and one page per chapter."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.content import Chapter
from app.deps import ChapterDep, CourseDep, SessionsDep
from app.exercises.service import exercise_states
from app.exercises.views import exercise_views
from app.identity import CurrentVisitor, current_visitor
from app.lab_runs.views import mount_labs
from app.progress import course_progress, latest_answers, record_visit
from app.quiz import option_orders
from app.simulation_views import mount_simulations

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse)
def read_home(request: Request, course: CourseDep, sessions: SessionsDep, visitor: CurrentVisitor):
    """The chapter list with this learner's progress (the account's, when logged in)."""
    progress = course_progress(sessions, visitor.learner_ids)
    total_questions = sum(len(c.meta.quiz) for c in course.chapters)
    correct = sum(p.correct for p in progress.values())
    opened = sum(1 for p in progress.values() if p.opened)
    return request.app.state.templates.TemplateResponse(
        request,
        "home.html",
        {
            "course": course,
            "progress": progress,
            "totals": {
                "opened": opened,
                "correct": correct,
                "questions": total_questions,
                "solved": sum(p.exercises_solved for p in progress.values()),
                "exercises": sum(len(c.meta.exercises) for c in course.chapters),
            },
        },
    )


@router.get("/chapters/{slug}", response_class=HTMLResponse)
def read_chapter(request: Request, chapter: ChapterDep):
    """One chapter: text, simulations at their defaults, quiz with any earlier answers, navigation."""
    return render_chapter(request, chapter, states={})


def render_chapter(
    request: Request,
    chapter: Chapter,
    states: dict[str, dict[str, str]],
    refused: dict[str, tuple[str, str]] | None = None,
):
    """The chapter page with its simulations at `states` (name → query); records the visit.

    `refused` (exercise id → (answer, message)) shows an answer that could not be checked beside its
    exercise, as typed, and answers 422."""
    app = request.app
    course, sessions, visitor = app.state.course, app.state.sessions, current_visitor(request)
    record_visit(sessions, visitor.learner_id, chapter.slug)
    previous, following = course.neighbours(chapter)
    return app.state.templates.TemplateResponse(
        request,
        "chapter.html",
        {
            "chapter": chapter,
            "chapter_html": mount_labs(
                app.state.templates,
                request,
                mount_simulations(app.state.templates, request, chapter, states),
                app.state.settings,
                sessions,
                set(visitor.learner_ids),
            ),
            "course": course,
            "previous": previous,
            "next": following,
            "answers": latest_answers(sessions, visitor.learner_ids, chapter.slug),
            "option_orders": option_orders(visitor.learner_id, chapter),
            "exercises": exercise_views(
                chapter, exercise_states(sessions, visitor.learner_ids, chapter.slug), refused or {}
            ),
        },
        status_code=422 if refused else 200,
    )
