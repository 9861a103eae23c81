"""The `exercise_attempts` table: every answer a learner's browser submitted that could be checked.

Attempts are kept, not overwritten: "solved" means any attempt was correct, the wrong ones count
towards showing the worked solution, and the instructor sees both.
"""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base, utcnow


class ExerciseAttempt(Base):
    __tablename__ = "exercise_attempts"
    __table_args__ = (Index("ix_exercise_attempts_learner_chapter", "learner_id", "chapter_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    chapter_slug: Mapped[str] = mapped_column(String(80))
    exercise_id: Mapped[str] = mapped_column(String(80))
    answer: Mapped[str] = mapped_column(Text)  # as submitted; numbers as the learner typed them
    correct: Mapped[bool]
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
