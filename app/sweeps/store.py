"""Reads and writes of sweeps. A sweep and all its runs are created in one transaction, so a refused or
failed launch leaves neither; reads filter by owner like the runs' store (another owner's sweep: None)."""

import json
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import owns_any, reading, transaction
from app.lab_runs.models import Run
from app.models import Learner, utcnow
from app.sweeps.models import Sweep


def create_sweep(sessions: sessionmaker[Session], sweep_id: str, learner_id: str, recipe: str, base: str,
                 overrides: dict, runs: list[tuple[str, int, Path]], runner: str) -> Sweep:
    """The sweep and one queued run per (run id, examples, run dir), queued in the given order."""
    with transaction(sessions) as session:
        if session.get(Learner, learner_id) is None:
            session.add(Learner(id=learner_id))
            session.flush()
        sweep = Sweep(id=sweep_id, learner_id=learner_id, recipe=recipe, base=base,
                      examples=json.dumps([n for _, n, _ in runs]), overrides=json.dumps(overrides, sort_keys=True))
        session.add(sweep)
        session.flush()
        start = utcnow()
        for order, (run_id, examples, run_dir) in enumerate(runs):
            session.add(Run(
                id=run_id, learner_id=learner_id, recipe=recipe, base=base, sweep_id=sweep_id,
                overrides=json.dumps({**overrides, "train_examples": examples}, sort_keys=True),
                status="queued", run_dir=str(run_dir), runner=runner, cancel_requested=False,
                # distinct times keep the queue (oldest first) in the sweep's order
                created_at=start.replace(microsecond=min(999_999, start.microsecond + order)),
            ))
    return sweep


def get_sweep(sessions: sessionmaker[Session], sweep_id: str, owners: Collection[str] | None) -> Sweep | None:
    with reading(sessions) as session:
        sweep = session.get(Sweep, sweep_id)
    if sweep is None or (owners is not None and sweep.learner_id not in owners):
        return None
    return sweep


def list_sweeps(sessions: sessionmaker[Session], owners: Collection[str]) -> list[Sweep]:
    if not owns_any(sessions, "sweeps", owners):  # most learners on a chapter page
        return []
    with reading(sessions) as session:
        return list(session.scalars(
            select(Sweep).where(Sweep.learner_id.in_(owners)).order_by(Sweep.created_at.desc())))


def sweep_runs(sessions: sessionmaker[Session], sweep_ids: Collection[str]) -> list[Run]:
    """The runs of these sweeps, in launch order."""
    with reading(sessions) as session:
        return list(session.scalars(
            select(Run).where(Run.sweep_id.in_(sweep_ids)).order_by(Run.created_at, Run.id)))
