"""The admin page: every account with its role (changeable) and every cohort with its instructor."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.accounts import list_users, set_role
from app.cohorts import list_cohorts
from app.deps import ObjectId, SessionsDep, UserAdmin
from app.forms import FormText, render, submit_form
from app.models import ROLES

router = APIRouter(prefix="/admin", tags=["admin"])


def _admin_context(admin, sessions) -> dict:
    return {"user": admin, "users": list_users(sessions), "cohorts": list_cohorts(sessions), "roles": ROLES}


@router.get("", response_class=HTMLResponse)
def read_admin_page(request: Request, admin: UserAdmin, sessions: SessionsDep):
    """Users and cohorts, for an admin."""
    return render(request, "admin.html", _admin_context(admin, sessions))


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def update_role_from_form(
    request: Request, user_id: ObjectId, admin: UserAdmin, sessions: SessionsDep, role: FormText = ""
):
    """Change a user's role; refused (the last admin), the page comes back saying why."""
    return submit_form(
        request,
        "admin.html",
        lambda: _admin_context(admin, sessions),
        lambda: set_role(sessions, user_id, role),
        "/admin?notice=role",
    )
