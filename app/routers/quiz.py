"""Answering a quiz question from the page: an htmx swap, or a plain form post without JavaScript."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import ChapterDep, SessionsDep
from app.identity import CurrentVisitor
from app.progress import record_answer
from app.quiz import grade, options_for

router = APIRouter(tags=["quiz"])


@router.post("/chapters/{slug}/quiz/{question_id}", response_class=HTMLResponse)
def create_quiz_answer(
    request: Request,
    chapter: ChapterDep,
    question_id: str,
    sessions: SessionsDep,
    visitor: CurrentVisitor,
    option: Annotated[str | None, Form()] = None,
):
    """Record the answer; htmx gets the question with its feedback, a browser is sent back to it."""
    graded = grade(chapter, question_id, option)
    record_answer(sessions, visitor.learner_id, chapter.slug, question_id, graded.chosen.id, graded.correct)
    if request.headers.get("HX-Request"):
        return request.app.state.templates.TemplateResponse(
            request,
            "_quiz_question.html",
            {
                "chapter": chapter,
                "question": graded.question,
                "options": options_for(visitor.learner_id, graded.question),
                "chosen": graded.chosen.id,
                "just_answered": True,
            },
        )
    return RedirectResponse(f"{chapter.url}#quiz-{question_id}", status_code=303)
