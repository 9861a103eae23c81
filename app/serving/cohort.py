"""The served adapters of an instructor's cohort: every succeeded run with an adapter of the cohort's learners, by
learner, with its /v1 model id, recipe, creation and last use. Kept beside app.lab_runs.cohort (runs and
sweeps), which it does not change."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import reading
from app.lab_runs.models import Run
from app.models import Cohort, CohortMember, Learner, User
from app.serving.catalog import adapter_name


@dataclass(frozen=True)
class ServedAdapter:
    learner: str
    model_id: str
    served_name: str | None
    recipe: str
    created_at: datetime
    last_served_at: datetime | None


def cohort_served_adapters(
    factory: sessionmaker[Session], cohort: Cohort, account_ids: list[int] | None = None
) -> list[ServedAdapter]:
    """Every member's served adapters, or only those of `account_ids` (a page of the dashboard, in that order)."""
    query = (
        select(User.id, User.display_name, Run)
        .join(Learner, Learner.id == Run.learner_id)
        .join(User, User.id == Learner.account_id)
        .join(CohortMember, CohortMember.user_id == User.id)
        .where(CohortMember.cohort_id == cohort.id, Run.status == "succeeded")
        .order_by(User.display_name, Run.created_at.desc())
    )
    if account_ids is not None:
        query = query.where(User.id.in_(account_ids))
    with reading(factory) as session:
        rows = session.execute(query).all()
    if account_ids is not None:
        position = {uid: i for i, uid in enumerate(account_ids)}
        rows.sort(key=lambda row: position[row[0]])  # stable: each learner's runs stay newest first
    return [ServedAdapter(name, adapter_name(run), run.served_name, run.recipe, run.finished_at or run.created_at,
                          run.last_served_at)
            for _uid, name, run in rows if (Path(run.run_dir) / "adapter").is_dir()]
