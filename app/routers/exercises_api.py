"""JSON API for exercises: the tasks without answers, and checking an answer."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import ChapterDep, SessionsDep
from app.exercises.service import answer_exercise, exercise_states
from app.exercises.views import exercise_public
from app.identity import CurrentVisitor

router = APIRouter(prefix="/api/chapters", tags=["exercises"])


class ExerciseAnswerIn(BaseModel):
    answer: Any  # a number, or a string; the checker says what shape it must have


@router.get("/{slug}/exercises")
def read_exercises(chapter: ChapterDep, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """The chapter's exercises, with whether this learner solved each; no answers or solutions."""
    states = exercise_states(sessions, visitor.learner_ids, chapter.slug)
    return {"exercises": [exercise_public(e, states.get(e.id)) for e in chapter.meta.exercises]}


@router.post("/{slug}/exercises/{exercise_id}")
def create_exercise_answer(
    chapter: ChapterDep, exercise_id: str, body: ExerciseAnswerIn, sessions: SessionsDep, visitor: CurrentVisitor
) -> dict:
    """Check and record an answer: `{correct, feedback}`, plus `solution` once solved or after two wrong tries."""
    outcome = answer_exercise(sessions, chapter, exercise_id, visitor.learner_id, visitor.learner_ids, body.answer)
    reply = {"correct": outcome.verdict.correct, "feedback": outcome.verdict.feedback}
    if outcome.state.shows_solution:
        reply["solution"] = chapter.exercise(exercise_id).solution
    return reply
