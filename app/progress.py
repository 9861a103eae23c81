"""What a learner did: chapters opened and quiz answers, written and summarised.

Each write is one short transaction; on SQLite it runs under BEGIN IMMEDIATE (see app.db), so
concurrent tabs of the same learner never lose a visit count or an answer.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import ChapterVisit, Learner, QuizAnswer, utcnow


def _ensure_learner(session: Session, learner_id: str) -> None:
    learner = session.get(Learner, learner_id)
    if learner is None:
        session.add(Learner(id=learner_id))
        session.flush()
    else:
        learner.last_seen_at = utcnow()


def record_visit(factory: sessionmaker[Session], learner_id: str, chapter_slug: str) -> None:
    with transaction(factory) as session:
        _ensure_learner(session, learner_id)
        visit = session.scalar(
            select(ChapterVisit).where(
                ChapterVisit.learner_id == learner_id, ChapterVisit.chapter_slug == chapter_slug
            )
        )
        if visit is None:
            session.add(ChapterVisit(learner_id=learner_id, chapter_slug=chapter_slug))
        else:
            visit.visits += 1
            visit.last_opened_at = utcnow()


def record_answer(
    factory: sessionmaker[Session], learner_id: str, chapter_slug: str, question_id: str, option_id: str, correct: bool
) -> None:
    with transaction(factory) as session:
        _ensure_learner(session, learner_id)
        session.add(
            QuizAnswer(
                learner_id=learner_id,
                chapter_slug=chapter_slug,
                question_id=question_id,
                option_id=option_id,
                correct=correct,
            )
        )


@dataclass(frozen=True)
class ChapterProgress:
    opened: bool
    answered: int
    correct: int


def latest_answers(factory: sessionmaker[Session], learner_id: str, chapter_slug: str) -> dict[str, str]:
    """question id → the option chosen most recently, for one chapter."""
    with factory() as session:
        rows = session.execute(
            select(QuizAnswer.question_id, QuizAnswer.option_id)
            .where(QuizAnswer.learner_id == learner_id, QuizAnswer.chapter_slug == chapter_slug)
            .order_by(QuizAnswer.id)
        ).all()
    return {question_id: option_id for question_id, option_id in rows}


def course_progress(factory: sessionmaker[Session], learner_id: str) -> dict[str, ChapterProgress]:
    """chapter slug → opened / questions answered / answered correctly (latest answer counts)."""
    with factory() as session:
        opened = set(
            session.scalars(select(ChapterVisit.chapter_slug).where(ChapterVisit.learner_id == learner_id))
        )
        latest_ids = (
            select(func.max(QuizAnswer.id))
            .where(QuizAnswer.learner_id == learner_id)
            .group_by(QuizAnswer.chapter_slug, QuizAnswer.question_id)
        )
        rows = session.execute(
            select(QuizAnswer.chapter_slug, QuizAnswer.correct).where(QuizAnswer.id.in_(latest_ids))
        ).all()
    answered: dict[str, list[bool]] = {}
    for slug, correct in rows:
        answered.setdefault(slug, []).append(bool(correct))
    slugs = opened | set(answered)
    return {
        slug: ChapterProgress(slug in opened, len(answered.get(slug, [])), sum(answered.get(slug, [])))
        for slug in slugs
    }
