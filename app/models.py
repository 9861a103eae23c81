"""The tables: learners and what they did (chapters opened, quiz answers); accounts and cohorts.

A learner is a browser (an anonymous signed cookie). Progress rows point at the learner, never at an
account: an account claims a learner by owning it (`learners.account_id`), so nothing is ever copied.
"""

from datetime import UTC, date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("learner", "instructor", "admin")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_learners_account_id_users"), index=True
    )
    # Bumped by database triggers (migration 0008) on every write to the learner's quiz answers, exercise
    # attempts, runs and sweeps: what app.chapter_page's cached parts are checked against.
    content_version: Mapped[int] = mapped_column(default=0, server_default="0")


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


class User(Base):
    """An account: email and argon2id hash; `session_version` is bumped to end every session at once."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="learner")
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EndedSession(Base):
    """A session cookie ended by logging out: its nonce, kept until the cookie would have expired anyway,
    so a copy of the cookie no longer logs anyone in."""

    __tablename__ = "ended_sessions"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Cohort(Base):
    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date | None] = mapped_column(Date)
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    instructor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CohortMember(Base):
    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
