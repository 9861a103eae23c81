"""The tables: learners and what they did (chapters opened, quiz answers).

A learner is a browser (an anonymous signed cookie). Progress rows point at the learner, never at an
account, so when accounts arrive an account claims a learner by owning it and nothing is copied.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChapterVisit(Base):
    __tablename__ = "chapter_visits"
    __table_args__ = (UniqueConstraint("learner_id", "chapter_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    chapter_slug: Mapped[str] = mapped_column(String(80))
    first_opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    visits: Mapped[int] = mapped_column(default=1)


class QuizAnswer(Base):
    """Every attempt is kept: the latest counts for progress, the first shows misconceptions."""

    __tablename__ = "quiz_answers"
    __table_args__ = (Index("ix_quiz_answers_learner_chapter", "learner_id", "chapter_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    chapter_slug: Mapped[str] = mapped_column(String(80))
    question_id: Mapped[str] = mapped_column(String(80))
    option_id: Mapped[str] = mapped_column(String(20))
    correct: Mapped[bool]
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
