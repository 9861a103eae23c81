"""The tables of serving: API keys (a hash of the secret, never the secret) and the admin's overrides of the
serving limits. A run's served name lives on the runs table itself (`runs.served_name`)."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base, utcnow


class ApiKey(Base):
    """A key for /v1. It acts for the learner that created it, and through that learner for the account that
    owns it (every learner of the account), exactly like the lab pages do."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_learner", "learner_id"), Index("ix_api_keys_prefix", "prefix"))

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_api_keys_user_id"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters: shown in lists, used to find it
    hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ServingSetting(Base):
    """An admin's value for one `serving_*` setting; absent, the server's Settings value holds."""

    __tablename__ = "serving_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
