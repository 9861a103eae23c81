"""Accounts over JSON: register, log in, log out (here or everywhere), change password, who am I.

Every POST needs the CSRF header, like the pages; a session cookie comes back on register and login.
"""

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from app.cohorts import memberships
from app.deps import SessionsDep
from app.identity import CurrentUser, change_password, log_in, log_out, log_out_everywhere, register
from app.models import User

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Generous bounds against huge payloads; the real rules (and their messages) live in app.accounts.
Text = Annotated[str, Field(max_length=1000)]


class RegisterIn(BaseModel):
    email: Text
    password: Text
    display_name: Text


class LoginIn(BaseModel):
    email: Text
    password: Text


class PasswordChangeIn(BaseModel):
    current_password: Text
    new_password: Text


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    display_name: str
    role: str


class CohortRef(BaseModel):
    id: int
    name: str


class MePublic(UserPublic):
    cohorts: list[CohortRef]


def me_public(sessions, user: User) -> MePublic:
    cohorts = [CohortRef(id=m.cohort_id, name=m.name) for m in memberships(sessions, user)]
    return MePublic(**UserPublic.model_validate(user).model_dump(), cohorts=cohorts)


@router.post("/register", status_code=201)
def create_registration(request: Request, body: RegisterIn) -> UserPublic:
    """Create a learner account, log in, and claim this browser's anonymous progress."""
    return UserPublic.model_validate(register(request, body.email, body.password, body.display_name))


@router.post("/login")
def create_login(request: Request, body: LoginIn) -> UserPublic:
    """Log in with a new session cookie; this browser's anonymous progress joins the account."""
    return UserPublic.model_validate(log_in(request, body.email, body.password))


@router.post("/logout", status_code=204)
def delete_session(request: Request) -> None:
    """End this browser's session."""
    log_out(request)


@router.post("/logout-everywhere", status_code=204)
def delete_all_sessions(request: Request, user: CurrentUser) -> None:
    """End every session of this account, on every device."""
    log_out_everywhere(request, user)


@router.post("/password", status_code=204)
def update_password(request: Request, body: PasswordChangeIn, user: CurrentUser) -> None:
    """Change the password; other sessions end, this one continues."""
    change_password(request, user, body.current_password, body.new_password)


@router.get("/me")
def read_me(user: CurrentUser, sessions: SessionsDep) -> MePublic:
    """The logged-in account and the cohorts it has joined; 401 when not logged in."""
    return me_public(sessions, user)
