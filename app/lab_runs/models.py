"""The `runs` table: one lab run, owned by a learner (and so by the account that claims the learner)."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base, utcnow
from app.sweeps.models import Sweep  # noqa: F401  (runs.sweep_id points at its table)

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_status_created", "status", "created_at"),
        Index("ix_runs_learner_created", "learner_id", "created_at"),
        Index("ix_runs_sweep", "sweep_id"),
        # serve-api: a served name is unique among one learner's runs (app.serving.keys checks the account's too)
        UniqueConstraint("learner_id", "served_name", name="uq_runs_learner_served_name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    recipe: Mapped[str] = mapped_column(String(80))
    base: Mapped[str] = mapped_column(String(200))
    overrides: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the learner's field values
    dataset_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it failed / was interrupted
    run_dir: Mapped[str] = mapped_column(Text)
    runner: Mapped[str] = mapped_column(String(16), default="local")
    handle: Mapped[str | None] = mapped_column(String(120), nullable=True)  # pid or Ray submission id
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    metrics: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON copy of metrics.json
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sweep_id: Mapped[str | None] = mapped_column(
        ForeignKey("sweeps.id", ondelete="CASCADE", name="fk_runs_sweep_id"), nullable=True
    )
    served_name: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the learner's /v1 name for it
