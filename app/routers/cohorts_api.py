"""Cohorts over JSON: create, join with a code, rotate the code, remove a learner, the dashboard and
its CSV. Which cohorts a user may touch is decided by app.authz (through the deps), never here.
"""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app import cohorts
from app.cohorts import format_code
from app.dashboard import build_dashboard, dashboard_csv, dashboard_json
from app.lab_runs.cohort import build_cohort_labs, cohort_labs_csv, cohort_labs_json
from app.deps import (
    CohortCreator,
    CohortReader,
    CourseDep,
    ManagedCohort,
    ObjectId,
    ReadableCohort,
    SessionsDep,
)
from app.identity import CurrentUser
from app.models import Cohort

router = APIRouter(prefix="/api/cohorts", tags=["cohorts"])


class CohortCreate(BaseModel):
    name: Annotated[str, Field(max_length=1000)]
    starts_on: date | None = None


class JoinIn(BaseModel):
    code: Annotated[str, Field(max_length=100)]


class CohortPublic(BaseModel):
    id: int
    name: str
    starts_on: date | None
    join_code: str

    @classmethod
    def of(cls, cohort: Cohort) -> "CohortPublic":
        return cls(id=cohort.id, name=cohort.name, starts_on=cohort.starts_on, join_code=format_code(cohort.join_code))


class CohortListed(CohortPublic):
    learners: int
    instructor: str


class JoinedPublic(BaseModel):
    id: int
    name: str


@router.post("", status_code=201)
def create_cohort(body: CohortCreate, instructor: CohortCreator, sessions: SessionsDep) -> CohortPublic:
    """Create a cohort taught by the caller, with a fresh join code."""
    return CohortPublic.of(cohorts.create_cohort(sessions, instructor, body.name, body.starts_on))


@router.get("")
def read_cohorts(user: CohortReader, sessions: SessionsDep) -> list[CohortListed]:
    """The cohorts the caller teaches (every cohort, for an admin)."""
    return [
        CohortListed(**CohortPublic.of(s.cohort).model_dump(), learners=s.learners, instructor=s.instructor_name)
        for s in cohorts.list_cohorts(sessions, None if user.role == "admin" else user)
    ]


@router.post("/join")
def create_membership(request: Request, body: JoinIn, user: CurrentUser, sessions: SessionsDep) -> JoinedPublic:
    """Join the cohort with this code (joining twice is harmless)."""
    cohort = cohorts.join_cohort(sessions, user, body.code)
    request.app.state.dashboards.forget(cohort.id)  # the new member shows on the dashboard's next refresh
    return JoinedPublic(id=cohort.id, name=cohort.name)


@router.post("/{cohort_id}/code")
def update_join_code(cohort: ManagedCohort, sessions: SessionsDep) -> CohortPublic:
    """Replace the join code; the old one stops working."""
    return CohortPublic.of(cohorts.rotate_code(sessions, cohort))


@router.delete("/{cohort_id}/members/{user_id}", status_code=204)
def delete_member(request: Request, cohort: ManagedCohort, user_id: ObjectId, sessions: SessionsDep) -> None:
    """Remove a learner from the cohort (their own progress stays theirs)."""
    cohorts.remove_member(sessions, cohort, user_id)
    request.app.state.dashboards.forget(cohort.id)


@router.get("/{cohort_id}/dashboard")
def read_dashboard(cohort: ReadableCohort, course: CourseDep, sessions: SessionsDep) -> dict:
    """Learners × chapters and per-question statistics with the most chosen wrong option."""
    body = dashboard_json(build_dashboard(sessions, course, cohort), format_code(cohort.join_code))
    return body | {"labs": cohort_labs_json(build_cohort_labs(sessions, cohort))}


@router.get("/{cohort_id}/export.csv")
def read_export(
    cohort: ReadableCohort, course: CourseDep, sessions: SessionsDep,
    table: Literal["learners", "questions", "exercises", "labs"] = "learners",
) -> Response:
    """The dashboard as CSV: `table=learners` (the matrix, default), `questions`, `exercises` or `labs`."""
    if table == "labs":
        text = cohort_labs_csv(build_cohort_labs(sessions, cohort))
    else:
        text = dashboard_csv(build_dashboard(sessions, course, cohort), table)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cohort-{cohort.id}-{table}.csv"'},
    )
