"""When a run's adapter was last served through /v1 (`runs.last_served_at`, for the instructor's list), written
at most once a minute per run so a busy adapter costs no write per request."""

import time
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.lab_runs.models import Run
from app.models import utcnow

EVERY = timedelta(minutes=1)
_recorded: dict[str, float] = {}  # run id -> monotonic time this process last wrote it: skips the write lock


def record_served(factory: sessionmaker[Session], run_id: str) -> None:
    if time.monotonic() - _recorded.get(run_id, -EVERY.total_seconds()) < EVERY.total_seconds():
        return
    _recorded[run_id] = time.monotonic()
    now = utcnow()
    with transaction(factory) as session:
        session.execute(update(Run).where(Run.id == run_id, or_(Run.last_served_at.is_(None),
                                                               Run.last_served_at < now - EVERY))
                        .values(last_served_at=now))
