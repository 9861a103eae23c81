"""The `sweeps` table: a learner's set of runs that differ only in their number of training examples.

The runs themselves are ordinary rows of `runs` pointing here through `runs.sweep_id`; a sweep's status is
derived from theirs, never stored, so it cannot disagree with them.
"""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base, utcnow


class Sweep(Base):
    __tablename__ = "sweeps"
    __table_args__ = (Index("ix_sweeps_learner_created", "learner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    recipe: Mapped[str] = mapped_column(String(80))
    base: Mapped[str] = mapped_column(String(200))
    examples: Mapped[str] = mapped_column(Text)  # JSON list of ints, in launch order
    overrides: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the fields shared by every run
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
