"""Checking an exercise answer for a learner and remembering it; what a learner has solved.

Writes go to one learner (this browser); reads take the set of learners an account owns, as quiz
progress does. Only answers the checker could grade are stored: a malformed one changes nothing.
"""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.content import Chapter
from app.db import marks, read_rows, transaction
from app.errors import AppError
from app.exercises.checker import AnswerError, Verdict, check
from app.exercises.models import ExerciseAttempt
from app.progress import ensure_learner

# After this many wrong tries the worked solution is shown even without a correct answer.
WRONG_TRIES_BEFORE_SOLUTION = 2


@dataclass(frozen=True)
class ExerciseState:
    """What one learner (or account) has done on one exercise."""

    solved: bool
    wrong_tries: int
    last_answer: str | None

    @property
    def shows_solution(self) -> bool:
        return self.solved or self.wrong_tries >= WRONG_TRIES_BEFORE_SOLUTION


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    state: ExerciseState


def find_exercise(chapter: Chapter, exercise_id: str):
    exercise = chapter.exercise(exercise_id)
    if exercise is None:
        known = ", ".join(e.id for e in chapter.meta.exercises) or "none"
        raise AppError(404, f"Chapter {chapter.slug!r} has no exercise {exercise_id!r}. Exercises: {known}.")
    return exercise


def answer_exercise(
    factory: sessionmaker[Session], chapter: Chapter, exercise_id: str, learner_id: str, learner_ids, answer: object
) -> Outcome:
    """Check `answer`, store it for `learner_id`, and return the verdict with the updated state.

    A 404 for an unknown exercise and a 422 for an answer of the wrong shape; neither stores anything.
    """
    exercise = find_exercise(chapter, exercise_id)
    if answer is None:
        raise AppError(422, "answer: Field required; send the answer to check.")
    try:
        verdict = check(exercise, answer)
    except AnswerError as exc:
        raise AppError(422, str(exc)) from None
    stored = answer if isinstance(answer, str) else repr(answer)
    with transaction(factory) as session:
        ensure_learner(session, learner_id)
        session.add(
            ExerciseAttempt(
                learner_id=learner_id,
                chapter_slug=chapter.slug,
                exercise_id=exercise.id,
                answer=stored.strip(),
                correct=verdict.correct,
            )
        )
    state = exercise_states(factory, {learner_id, *learner_ids}, chapter.slug).get(exercise.id)
    return Outcome(verdict, state)


def exercise_states(
    factory: sessionmaker[Session], learner_ids: Collection[str], chapter_slug: str
) -> dict[str, ExerciseState]:
    """exercise id → solved / wrong tries / latest answer, over every attempt by any of `learner_ids`.

    Aggregated in the database, so a page costs the same after one try or after hundreds; one bare read,
    because every chapter view that is not cached asks it."""
    rows = read_rows(factory, _STATES.format(marks=marks(learner_ids)), [*learner_ids, chapter_slug])
    return {exercise_id: ExerciseState(bool(solved), int(wrong), answer) for exercise_id, solved, wrong, answer in rows}


# Per exercise: solved at least once, wrong tries, and the answer of the latest attempt (the highest id).
_STATES = (
    "SELECT totals.exercise_id, totals.solved, totals.wrong, latest.answer FROM ("
    " SELECT exercise_id, MAX(CASE WHEN correct THEN 1 ELSE 0 END) AS solved,"
    " SUM(CASE WHEN correct THEN 0 ELSE 1 END) AS wrong, MAX(id) AS last_id"
    " FROM exercise_attempts WHERE learner_id IN ({marks}) AND chapter_slug = ? GROUP BY exercise_id"
    ") AS totals JOIN exercise_attempts AS latest ON latest.id = totals.last_id"
)


def attempt_counts(session: Session, member_learners) -> list[tuple]:
    """(account id, chapter, exercise, attempts, correct attempts) for a subquery of (id, account_id) learners."""
    return session.execute(
        select(
            member_learners.c.account_id,
            ExerciseAttempt.chapter_slug,
            ExerciseAttempt.exercise_id,
            func.count(),
            func.sum(case((ExerciseAttempt.correct, 1), else_=0)),
        )
        .join(member_learners, member_learners.c.id == ExerciseAttempt.learner_id)
        .group_by(member_learners.c.account_id, ExerciseAttempt.chapter_slug, ExerciseAttempt.exercise_id)
    ).all()
