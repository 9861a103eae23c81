"""The `capstone_ticks` table: the checklist items a learner ticked by hand (detected ones are not stored)."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base, utcnow


class CapstoneTick(Base):
    __tablename__ = "capstone_ticks"
    __table_args__ = (UniqueConstraint("learner_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(60))
    ticked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
