"""The account pages: register, log in, log out, the account itself (progress, cohorts, log out
everywhere) and changing the password. Plain forms that work without JavaScript.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app import identity
from app.cohorts import memberships
from app.deps import CourseDep, SessionsDep
from app.forms import FormText, render, safe_next, submit_form
from app.identity import CurrentUser
from app.progress import account_progress

router = APIRouter(tags=["account"])


@router.get("/register", response_class=HTMLResponse)
def read_register_page(request: Request, next: str = ""):
    """The registration form."""
    return render(request, "register.html", {"values": {"next": next}})


@router.post("/register", response_class=HTMLResponse)
def create_registration_from_form(
    request: Request, email: FormText = "", display_name: FormText = "", password: FormText = "", next: FormText = ""
):
    """Create the account and log in; refused, the form comes back saying why."""
    return submit_form(
        request,
        "register.html",
        {"values": {"email": email, "display_name": display_name, "next": next}},
        lambda: identity.register(request, email, password, display_name),
        safe_next(next, "/account?notice=welcome"),
    )


@router.get("/login", response_class=HTMLResponse)
def read_login_page(request: Request, next: str = ""):
    """The login form."""
    return render(request, "login.html", {"values": {"next": next}})


@router.post("/login", response_class=HTMLResponse)
def create_login_from_form(request: Request, email: FormText = "", password: FormText = "", next: FormText = ""):
    """Log in; refused, the form comes back saying why."""
    return submit_form(
        request,
        "login.html",
        {"values": {"email": email, "next": next}},
        lambda: identity.log_in(request, email, password),
        safe_next(next, "/account?notice=logged-in"),
    )


@router.post("/logout")
def delete_session_from_form(request: Request):
    """Log out of this browser and go home."""
    identity.log_out(request)
    return RedirectResponse("/", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def read_account(request: Request, user: CurrentUser, course: CourseDep, sessions: SessionsDep):
    """The account: progress across every browser, cohorts joined, and the ways to log out."""
    progress = account_progress(sessions, user.id)
    return render(
        request,
        "account.html",
        {"user": user, "course": course, "progress": progress, "memberships": memberships(sessions, user)},
    )


@router.post("/account/logout-everywhere")
def delete_all_sessions_from_form(request: Request, user: CurrentUser):
    """End every session of the account, this one included."""
    identity.log_out_everywhere(request, user)
    return RedirectResponse("/login?notice=everywhere", status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def read_password_page(request: Request, user: CurrentUser):
    """The change-password form."""
    return render(request, "password.html", {"user": user})


@router.post("/account/password", response_class=HTMLResponse)
def update_password_from_form(
    request: Request, user: CurrentUser, current_password: FormText = "", new_password: FormText = ""
):
    """Change the password; other devices are logged out."""
    return submit_form(
        request,
        "password.html",
        {"user": user},
        lambda: identity.change_password(request, user, current_password, new_password),
        "/account?notice=password",
    )
