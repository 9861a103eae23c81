"""Who may do what, as data: one table of (role, resource, action) → rule, applied by one function.

A rule says which objects the role may act on: `any`, `own` (a cohort the actor teaches, the actor's
own account) or `taught` (the actor, or a learner in one of the actor's cohorts). A triple missing
from the table is denied. Denied on a given object answers 404, exactly as if it did not exist, so
guessing ids reveals nothing; denied on a kind of action (creating a cohort) answers 403.
"""

from collections.abc import Collection
from enum import StrEnum

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import reading
from app.errors import AppError
from app.lab_runs import store as run_store
from app.lab_runs.models import Run
from app.models import Cohort, CohortMember, User
from app.sweeps import store as sweep_store
from app.sweeps.models import Sweep


class Rule(StrEnum):
    ANY = "any"
    OWN = "own"
    TAUGHT = "taught"


POLICY: dict[tuple[str, str, str], Rule] = {
    # Anyone with an account may join a cohort with its code and read their own progress.
    ("learner", "cohort", "join"): Rule.ANY,
    ("instructor", "cohort", "join"): Rule.ANY,
    ("admin", "cohort", "join"): Rule.ANY,
    ("learner", "progress", "read"): Rule.OWN,
    # Instructors run their own cohorts and see their own learners.
    ("instructor", "cohort", "create"): Rule.ANY,
    ("instructor", "cohort", "read"): Rule.OWN,
    ("instructor", "cohort", "manage"): Rule.OWN,
    ("instructor", "progress", "read"): Rule.TAUGHT,
    # Admins see and change everything.
    ("admin", "cohort", "create"): Rule.ANY,
    ("admin", "cohort", "read"): Rule.ANY,
    ("admin", "cohort", "manage"): Rule.ANY,
    ("admin", "progress", "read"): Rule.ANY,
    ("admin", "user", "read"): Rule.ANY,
    ("admin", "user", "manage"): Rule.ANY,
    # serve-api: only admins change the serving limits (keys per user, tokens per minute, ...).
    ("admin", "serving", "manage"): Rule.ANY,
}


def _owns(actor: User, target: Cohort | User) -> bool:
    return (target.instructor_id if isinstance(target, Cohort) else target.id) == actor.id


def _teaches(session: Session, actor: User, learner: User) -> bool:
    if learner.id == actor.id:
        return True
    taught = (
        select(CohortMember.id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(CohortMember.user_id == learner.id, Cohort.instructor_id == actor.id)
    )
    return bool(session.scalar(select(exists(taught))))


def is_allowed(
    factory: sessionmaker[Session], actor: User, resource: str, action: str, target: Cohort | User | None = None
) -> bool:
    rule = POLICY.get((actor.role, resource, action))
    if rule is None:
        return False
    if rule is Rule.ANY or target is None:
        # A rule on objects still allows the action in general (listing your own cohorts, say).
        return True
    if rule is Rule.OWN:
        return _owns(actor, target)
    with reading(factory) as session:
        return isinstance(target, User) and _teaches(session, actor, target)


def authorize(
    factory: sessionmaker[Session], actor: User, resource: str, action: str, target: Cohort | User | None = None
) -> None:
    """Return when allowed; otherwise 404 for an object (as if absent) or 403 for a kind of action."""
    if is_allowed(factory, actor, resource, action, target):
        return
    if target is not None:
        raise AppError(404, not_found_message(resource, target.id))
    raise AppError(403, f"Your account ({actor.role}) cannot {action} a {resource}.")


def not_found_message(resource: str, object_id: object) -> str:
    noun = "user" if resource in ("user", "progress") else resource
    return f"There is no {noun} {object_id}."


# Lab runs and sweeps belong to learners (an account owns its learners): only their owner sees them, and
# anyone else's id answers 404 exactly as an unknown one does.
def owned_run(factory: sessionmaker[Session], run_id: str, learner_ids: Collection[str]) -> Run:
    run = run_store.get_run(factory, run_id, owners=set(learner_ids))
    if run is None:
        raise AppError(404, f"There is no run {run_id!r} among yours.")
    return run


def owned_sweep(factory: sessionmaker[Session], sweep_id: str, learner_ids: Collection[str]) -> Sweep:
    sweep = sweep_store.get_sweep(factory, sweep_id, owners=set(learner_ids))
    if sweep is None:
        raise AppError(404, f"There is no sweep {sweep_id!r} among yours.")
    return sweep
