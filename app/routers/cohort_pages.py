"""The cohort pages: an instructor's cohorts, creating one, the dashboard (with the join code, its
rotation and removing learners), and the page where a learner joins with a code.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app import cohorts
from app import dashboard as figures
from app.authz import is_allowed
from app.dashboard import SORTS, build_dashboard, parse_page, time_ago
from app.lab_runs.cohort import build_cohort_labs
from app.serving.cohort import cohort_served_adapters
from app.deps import (
    CohortCreator,
    CohortReader,
    CourseDep,
    ManagedCohort,
    ObjectId,
    ReadableCohort,
    SessionsDep,
)
from app.forms import FormText, render, submit_form
from app.identity import CurrentUser, OptionalUser

router = APIRouter(prefix="/cohorts", tags=["cohort pages"])


@router.get("", response_class=HTMLResponse)
def read_cohorts_page(request: Request, user: CohortReader, sessions: SessionsDep):
    """The cohorts this instructor teaches (all of them, for an admin)."""
    listed = cohorts.list_cohorts(sessions, None if user.role == "admin" else user)
    return render(request, "cohorts.html", {"user": user, "cohorts": listed, "format_code": cohorts.format_code})


@router.get("/new", response_class=HTMLResponse)
def read_new_cohort_page(request: Request, user: CohortCreator):
    """The form that creates a cohort."""
    return render(request, "cohort_new.html")


@router.post("", response_class=HTMLResponse)
def create_cohort_from_form(
    request: Request, instructor: CohortCreator, sessions: SessionsDep, name: FormText = "", starts_on: FormText = ""
):
    """Create the cohort and open its dashboard; refused, the form comes back saying why."""
    return submit_form(
        request,
        "cohort_new.html",
        {"values": {"name": name, "starts_on": starts_on}},
        lambda: cohorts.create_cohort(sessions, instructor, name, cohorts.parse_start_date(starts_on)),
        lambda cohort: f"/cohorts/{cohort.id}?notice=created",
    )


@router.get("/join", response_class=HTMLResponse)
def read_join_page(request: Request, user: OptionalUser, code: str = ""):
    """Join with a code (a shared link fills it in); without an account, the way to make one first."""
    return render(request, "cohort_join.html", {"user": user, "values": {"code": code}})


@router.post("/join", response_class=HTMLResponse)
def create_membership_from_form(request: Request, user: CurrentUser, sessions: SessionsDep, code: FormText = ""):
    """Join the cohort; refused (a mistyped code), the form comes back saying why."""
    return submit_form(
        request,
        "cohort_join.html",
        {"user": user, "values": {"code": code}},
        lambda: _join(request, sessions, user, code),
        "/account?notice=joined",
    )


def _join(request: Request, sessions, user, code: str):
    cohort = cohorts.join_cohort(sessions, user, code)
    request.app.state.dashboards.forget(cohort.id)  # the new member shows on the dashboard's next refresh
    return cohort


def _sweeps_chart_bundle(request: Request, labs) -> str | None:
    """The smallest Plotly bundle that draws the cohort's sweeps chart (as a chapter's); none without points."""
    if not labs.points:
        return None
    return request.app.state.assets.plotly_url({trace.get("type", "scatter") for trace in labs.figure()["data"]})


@router.get("/{cohort_id}", response_class=HTMLResponse)
def read_dashboard_page(
    request: Request, cohort: ReadableCohort, user: CurrentUser, course: CourseDep, sessions: SessionsDep,
    page: str = "1", sort: str = "name",
):
    """The dashboard: join code, learners × chapters (a page of them, `page` and `sort`), questions with their
    misconceptions, lab runs; the figures are at most app.dashboard_cache.TTL_S old."""
    number, sort = parse_page(page, sort)

    def build():
        dashboard = build_dashboard(sessions, course, cohort, number, sort)
        shown = [row.user_id for row in dashboard.learners]
        labs = build_cohort_labs(sessions, cohort, shown)  # the same page
        return dashboard, labs, cohort_served_adapters(sessions, cohort, shown)

    key = (cohort.id, number, sort, figures.PAGE_SIZE)  # everything the build reads but the database
    dashboard, labs, served = request.app.state.dashboards.get(key, build)
    return render(
        request,
        "cohort_dashboard.html",
        {
            "dashboard": dashboard,
            "sorts": SORTS,
            "labs": labs,
            "plotly_url": _sweeps_chart_bundle(request, labs),
            "served": served,
            "join_code": cohorts.format_code(cohort.join_code),
            "can_manage": is_allowed(sessions, user, "cohort", "manage", cohort),
            "time_ago": time_ago,
            "base_url": request.app.state.settings.base_url.rstrip("/"),
        },
    )


@router.post("/{cohort_id}/code")
def update_join_code_from_form(cohort: ManagedCohort, sessions: SessionsDep):
    """Rotate the join code and come back to the dashboard."""
    cohorts.rotate_code(sessions, cohort)
    return RedirectResponse(f"/cohorts/{cohort.id}?notice=rotated", status_code=303)


@router.post("/{cohort_id}/members/{user_id}/remove")
def delete_member_from_form(
    request: Request, cohort: ManagedCohort, user_id: ObjectId, sessions: SessionsDep, page: FormText = "1",
    sort: FormText = "name",
):
    """Remove a learner and come back to the dashboard, at the page and sort the form was on."""
    number, sort = parse_page(page, sort)
    cohorts.remove_member(sessions, cohort, user_id)
    request.app.state.dashboards.forget(cohort.id)
    back = "" if (number, sort) == (1, "name") else f"&page={number}&sort={sort}"
    return RedirectResponse(f"/cohorts/{cohort.id}?notice=removed{back}", status_code=303)
