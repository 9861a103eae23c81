"""The labs on an instructor's cohort dashboard: each learner's runs with their best compliance and relevance,
and the cohort's compliance-against-examples points from the learners' sweeps.

Kept apart from app.dashboard (quiz and chapter progress) so each half reads, and changes, on its own.
"""

import csv
import io
import json
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.dashboard import spreadsheet_cell
from app.db import reading
from app.lab_runs.models import Run
from app.models import Cohort, CohortMember, Learner, User
from simulations import compliance


@dataclass
class LearnerLabs:
    user_id: int
    display_name: str
    runs: int = 0
    succeeded: int = 0
    best_compliance: float | None = None
    best_relevance: float | None = None
    best_relevance_match: float | None = None  # question match (labs/relevance.py), read next to its chance level
    relevance_chance: float | None = None  # the chance level of the run with that best question match


@dataclass
class CohortLabs:
    learners: list[LearnerLabs]
    points: list[dict] = field(default_factory=list)  # {"learner", "examples", "compliance"} per finished sweep run

    def figure(self) -> dict:
        return compliance.cohort_figure(self.points)


def _best(current: float | None, value) -> float | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


def build_cohort_labs(
    factory: sessionmaker[Session], cohort: Cohort, account_ids: list[int] | None = None
) -> CohortLabs:
    """Every member's labs, or only those of `account_ids` (a page of the dashboard, in that order); the sweeps'
    points are every member's either way."""
    with reading(factory) as session:
        query = (
            select(User.id, User.display_name)
            .join(CohortMember, CohortMember.user_id == User.id)
            .where(CohortMember.cohort_id == cohort.id)
            .order_by(func.lower(User.display_name), User.id)  # the learner tables' order (app.dashboard)
        )
        members = session.execute(query if account_ids is None else query.where(User.id.in_(account_ids))).all()
        runs = session.execute(
            select(Learner.account_id, User.display_name, Run.status, Run.metrics, Run.sweep_id, Run.overrides)
            .join(Learner, Learner.id == Run.learner_id)
            .join(CohortMember, CohortMember.user_id == Learner.account_id)
            .join(User, User.id == Learner.account_id)
            .where(CohortMember.cohort_id == cohort.id)
        ).all()
    rows = {uid: LearnerLabs(uid, name) for uid, name in members}
    points = []
    for uid, name, status, metrics_text, sweep_id, overrides in runs:
        row = rows.get(uid) or LearnerLabs(uid, name)  # a learner off the page still counts in the sweeps chart
        row.runs += 1
        metrics = json.loads(metrics_text) if metrics_text else {}
        if status != "succeeded" or not metrics:
            continue
        row.succeeded += 1
        row.best_compliance = _best(row.best_compliance, metrics.get("compliance_after"))
        row.best_relevance = _best(row.best_relevance, metrics.get("relevance_after"))
        match = metrics.get("relevance_match_after")
        if match is not None and (row.best_relevance_match is None or match > row.best_relevance_match):
            row.best_relevance_match, row.relevance_chance = match, metrics.get("relevance_chance")
        if sweep_id is not None and metrics.get("compliance_after") is not None:
            points.append({"learner": name, "examples": json.loads(overrides)["train_examples"],
                           "compliance": metrics["compliance_after"]})
    listed = list(rows.values()) if account_ids is None else [rows[uid] for uid in account_ids if uid in rows]
    return CohortLabs(listed, sorted(points, key=lambda p: (p["examples"], p["learner"])))


def cohort_labs_json(labs: CohortLabs) -> dict:
    return {
        "learners": [{"id": r.user_id, "display_name": r.display_name, "runs": r.runs, "succeeded": r.succeeded,
                      "best_compliance": r.best_compliance, "best_relevance": r.best_relevance,
                      "best_relevance_match": r.best_relevance_match, "relevance_chance": r.relevance_chance}
                     for r in labs.learners],
        "sweep_points": labs.points,
    }


def cohort_labs_csv(labs: CohortLabs) -> str:
    """One row per learner: runs, finished runs, best compliance and relevance (both measures, with the chance
    level of the best question match)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", "runs", "runs_succeeded", "best_compliance", "best_relevance",
                     "best_relevance_match", "relevance_chance"])
    for r in labs.learners:
        writer.writerow([spreadsheet_cell(v) for v in (r.display_name, r.runs, r.succeeded, r.best_compliance,
                                                        r.best_relevance, r.best_relevance_match, r.relevance_chance)])
    return out.getvalue()
