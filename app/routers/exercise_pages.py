"""Answering an exercise from the chapter page: an htmx swap, or a plain form post without JavaScript."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import ChapterDep, SessionsDep
from app.errors import AppError
from app.exercises.service import answer_exercise, find_exercise
from app.exercises.views import exercise_view
from app.identity import CurrentVisitor
from app.chapter_page import render_chapter

router = APIRouter(prefix="/chapters", tags=["exercises"])


@router.post("/{slug}/exercises/{exercise_id}", response_class=HTMLResponse)
def create_exercise_answer_from_page(
    request: Request,
    chapter: ChapterDep,
    exercise_id: str,
    sessions: SessionsDep,
    visitor: CurrentVisitor,
    answer: Annotated[str | None, Form(max_length=20_000)] = None,
):
    """Check and record; htmx gets the exercise with feedback, a browser is sent back to it (or, when the
    answer cannot be checked, gets the chapter again with the message beside the answer, status 422)."""
    is_htmx = bool(request.headers.get("HX-Request"))
    try:
        outcome = answer_exercise(sessions, chapter, exercise_id, visitor.learner_id, visitor.learner_ids, answer or "")
    except AppError as exc:
        if is_htmx or exc.status_code != 422:
            raise
        return render_chapter(request, chapter, states={}, refused={exercise_id: (answer or "", exc.detail)})
    if is_htmx:
        view = exercise_view(chapter, find_exercise(chapter, exercise_id), outcome.state)
        return request.app.state.templates.TemplateResponse(
            request, "_exercise.html", {"chapter": chapter, "view": view, "just_answered": True}
        )
    return RedirectResponse(f"{chapter.url}#exercise-{exercise_id}", status_code=303)
