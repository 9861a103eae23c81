"""The capstone checklist of a learner: items ticked by hand (stored) and items the app detects from
the learner's lab runs (computed on every read, so they follow the runs and are never stale).

Reads take the set of learners an account owns, as progress does; saving replaces the ticks of all
of them with the submitted set, in one transaction.
"""

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.capstone.models import CapstoneTick
from app.capstone.schema import CapstoneMatter
from app.db import reading, transaction
from app.errors import AppError
from app.lab_runs.models import Run
from app.progress import ensure_learner


@dataclass(frozen=True)
class CapstoneStatus:
    ticked: frozenset[str]  # item ids ticked by hand
    detected: frozenset[str]  # item ids whose evidence the app has seen

    def done(self, item_id: str) -> bool:
        return item_id in self.ticked or item_id in self.detected

    def done_count(self, capstone: CapstoneMatter) -> int:
        return sum(self.done(item.id) for item in capstone.items)


NOTHING = CapstoneStatus(frozenset(), frozenset())


def detected_evidence(runs: Iterable[tuple[str | None, str | None, str | None]]) -> set[str]:
    """The detectors satisfied by succeeded runs given as (overrides JSON, dataset name, metrics JSON)."""
    found: set[str] = set()
    settings: set[str] = set()
    for overrides, dataset_name, metrics in runs:
        found.add("run-succeeded")
        if dataset_name:
            found.add("own-data-run")
        # Two runs of one sweep differ in their overrides (learning rate, rank, …), the dataset aside.
        chosen = {k: v for k, v in json.loads(overrides or "{}").items() if k != "dataset"}
        settings.add(json.dumps(chosen, sort_keys=True))
        if metrics and json.loads(metrics).get("compliance_after") is not None:
            found.add("run-evaluated")
    if len(settings) >= 2:
        found.add("runs-compared")
    return found


def _status(capstone: CapstoneMatter, ticked: Iterable[str], evidence: set[str]) -> CapstoneStatus:
    known = {item.id for item in capstone.items}
    detected = {item.id for item in capstone.items if item.detect in evidence}
    return CapstoneStatus(frozenset(set(ticked) & known), frozenset(detected))


def capstone_status(factory: sessionmaker[Session], capstone: CapstoneMatter, learner_ids: Collection[str]) -> CapstoneStatus:
    with reading(factory) as session:
        ticked = session.scalars(select(CapstoneTick.item_id).where(CapstoneTick.learner_id.in_(learner_ids))).all()
        runs = session.execute(
            select(Run.overrides, Run.dataset_name, Run.metrics).where(
                Run.learner_id.in_(learner_ids), Run.status == "succeeded"
            )
        ).all()
    return _status(capstone, ticked, detected_evidence(runs))


def save_ticks(
    factory: sessionmaker[Session],
    capstone: CapstoneMatter,
    learner_id: str,
    learner_ids: Collection[str],
    ticked: Collection[str],
) -> None:
    """Make `ticked` the learner's hand-ticked items; an unknown item id is a 422 and changes nothing."""
    known = [item.id for item in capstone.items]
    unknown = sorted(set(ticked) - set(known))
    if unknown:
        raise AppError(422, f"ticked: {unknown[0]!r} is not a capstone checklist item; items: {', '.join(known)}.")
    with transaction(factory) as session:
        ensure_learner(session, learner_id)
        session.execute(delete(CapstoneTick).where(CapstoneTick.learner_id.in_({learner_id, *learner_ids})))
        session.add_all(CapstoneTick(learner_id=learner_id, item_id=item_id) for item_id in sorted(set(ticked)))


def cohort_capstone(session: Session, capstone: CapstoneMatter, member_learners) -> dict[int, CapstoneStatus]:
    """account id → capstone status, for a subquery of (learner id, account_id) learners."""
    ticks = session.execute(
        select(member_learners.c.account_id, CapstoneTick.item_id).join(
            member_learners, member_learners.c.id == CapstoneTick.learner_id
        )
    ).all()
    runs = session.execute(
        select(member_learners.c.account_id, Run.overrides, Run.dataset_name, Run.metrics)
        .join(member_learners, member_learners.c.id == Run.learner_id)
        .where(Run.status == "succeeded")
    ).all()
    ticked: dict[int, set[str]] = {}
    for account_id, item_id in ticks:
        ticked.setdefault(account_id, set()).add(item_id)
    evidence: dict[int, list] = {}
    for account_id, *run in runs:
        evidence.setdefault(account_id, []).append(run)
    return {
        account_id: _status(capstone, ticked.get(account_id, ()), detected_evidence(evidence.get(account_id, ())))
        for account_id in set(ticked) | set(evidence)
    }
