"""Reads and writes of the runs table. Every query that a learner can reach filters by owner, so
another owner's run is simply not found (a 404, never a 403 that would confirm it exists).
"""

import json
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import owns_any, reading, transaction
from app.lab_runs.models import ACTIVE, Run
from app.models import Learner, utcnow


def create_run(
    sessions: sessionmaker[Session],
    run_id: str,
    learner_id: str,
    recipe: str,
    base: str,
    overrides: dict,
    run_dir: Path,
    runner: str,
    dataset_name: str | None = None,
) -> Run:
    with transaction(sessions) as session:
        if session.get(Learner, learner_id) is None:
            session.add(Learner(id=learner_id))
            session.flush()
        run = Run(
            id=run_id,
            learner_id=learner_id,
            recipe=recipe,
            base=base,
            overrides=json.dumps(overrides, sort_keys=True),
            dataset_name=dataset_name,
            status="queued",
            run_dir=str(run_dir),
            runner=runner,
            cancel_requested=False,
        )
        session.add(run)
    return run


def list_runs(sessions: sessionmaker[Session], owners: Collection[str]) -> list[Run]:
    if not owns_any(sessions, "runs", owners):  # most learners on a chapter page
        return []
    with reading(sessions) as session:
        return list(session.scalars(select(Run).where(Run.learner_id.in_(owners)).order_by(Run.created_at.desc())))


def get_run(sessions: sessionmaker[Session], run_id: str, owners: Collection[str] | None) -> Run | None:
    """The run, or None when it does not exist or (with `owners`) belongs to someone else."""
    with reading(sessions) as session:
        run = session.get(Run, run_id)
    if run is None or (owners is not None and run.learner_id not in owners):
        return None
    return run


def runs_with_status(sessions: sessionmaker[Session], status: str) -> list[Run]:
    with reading(sessions) as session:
        return list(session.scalars(select(Run).where(Run.status == status).order_by(Run.created_at)))


def claim_next_queued(sessions: sessionmaker[Session]) -> Run | None:
    """Move the oldest queued run to running; the conditional update makes a double claim impossible."""
    with transaction(sessions) as session:
        run = session.scalar(select(Run).where(Run.status == "queued").order_by(Run.created_at).limit(1))
        if run is None:
            return None
        claimed = session.execute(
            update(Run).where(Run.id == run.id, Run.status == "queued").values(status="running", started_at=utcnow())
        ).rowcount
        if claimed != 1:
            return None
        session.refresh(run)
        return run


def set_handle(sessions: sessionmaker[Session], run_id: str, handle: str) -> None:
    with transaction(sessions) as session:
        session.execute(update(Run).where(Run.id == run_id).values(handle=handle))


def finish(
    sessions: sessionmaker[Session], run_id: str, status: str, reason: str | None = None, metrics: dict | None = None
) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=status,
                reason=reason,
                metrics=json.dumps(metrics) if metrics is not None else None,
                finished_at=utcnow(),
            )
        )


def request_cancel(sessions: sessionmaker[Session], run_id: str) -> str:
    """Flag a run for cancelling; a queued run is cancelled at once. Returns the status after the call."""
    with transaction(sessions) as session:
        run = session.get(Run, run_id)
        if run.status == "queued":
            run.status, run.reason, run.finished_at = "cancelled", "Cancelled before it started.", utcnow()
        elif run.status == "running":
            run.cancel_requested = True
        return run.status


def delete_run(sessions: sessionmaker[Session], run_id: str) -> None:
    with transaction(sessions) as session:
        session.execute(delete(Run).where(Run.id == run_id))


def count_active(sessions: sessionmaker[Session], owners: Collection[str]) -> int:
    with reading(sessions) as session:
        return session.scalar(
            select(func.count()).select_from(Run).where(Run.learner_id.in_(owners), Run.status.in_(ACTIVE))
        )


def count_active_anonymous(sessions: sessionmaker[Session]) -> int:
    """Queued or running runs of learners that no account has claimed: visitors without an account."""
    with reading(sessions) as session:
        return session.scalar(
            select(func.count()).select_from(Run).join(Learner, Learner.id == Run.learner_id)
            .where(Learner.account_id.is_(None), Run.status.in_(ACTIVE))
        )


def count_since(sessions: sessionmaker[Session], owners: Collection[str], since: datetime) -> int:
    with reading(sessions) as session:
        return session.scalar(
            select(func.count()).select_from(Run).where(Run.learner_id.in_(owners), Run.created_at >= since)
        )


def hour_ago() -> datetime:
    return utcnow() - timedelta(hours=1)
