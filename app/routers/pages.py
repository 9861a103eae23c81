"""The course pages: the home page with progress, and one page per chapter."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.chapter_page import chapter_view
from app.deps import CourseDep, SessionsDep, find_chapter
from app.identity import CurrentVisitor
from app.progress import course_progress

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
async def read_chapter(request: Request, slug: str):
    """One chapter: text, simulations at their defaults, quiz with any earlier answers, navigation."""
    # The chapter is looked up here rather than through ChapterDep: two dependencies to solve were ~10% of a
    # cached view's CPU.
    return await chapter_view(request, find_chapter(request.app.state.course, slug), states={})
