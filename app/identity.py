"""Who is asking: the signed-in account (session cookie) and this browser's learner; and the flows
that change it: register, log in, log out (here or everywhere), change password.

The session cookie is Starlette's signed one (HttpOnly, SameSite=Lax, Secure behind https). It holds
the user id, the account's session version and a fresh nonce: a login issues a new cookie, and
bumping the version in the database ends every session of the account, wherever it is.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from app import accounts
from app.errors import AppError
from app.models import User, utcnow
from app.rate_limits import limit_auth_attempt

_MISSING = object()


def _state(request: Request) -> dict:
    return request.scope.setdefault("state", {})


def load_current_user(request: Request) -> User | None:
    """The account this request's session cookie names, if the cookie is still valid."""
    state = _state(request)
    if state.get("user", _MISSING) is not _MISSING:
        return state["user"]
    session = request.scope.get("session") or {}
    user = None
    if "user" in session:
        factory = request.app.state.sessions
        user, ended, owned = accounts.session_user(factory, session["user"], str(session.get("nonce")))
        if user is None or user.session_version != session.get("version") or ended:
            session.clear()
            user = None
        else:
            state["owned_learners"] = owned  # read with the user; `visitor_knowing` needs them next
    state["user"] = user
    return user


def signed_in_user(request: Request) -> User | None:
    """For the page header: like load_current_user, but an error page about the database still renders."""
    try:
        return load_current_user(request)
    except SQLAlchemyError:
        return None


def require_user(request: Request) -> User:
    user = load_current_user(request)
    if user is None:
        raise AppError(401, "Log in first: this needs an account.")
    return user


@dataclass(frozen=True)
class Visitor:
    """The person in this browser: their account if signed in, where new progress goes, whose progress shows."""

    user: User | None
    learner_id: str
    learner_ids: tuple[str, ...]


def current_visitor(request: Request) -> Visitor:
    return visitor_knowing(request, _MISSING)


def visitor_knowing(request: Request, learner_account) -> Visitor:
    """current_visitor, for a caller that has read the account that claimed this browser's learner (an id or
    None; `_MISSING`: not read), so an anonymous view makes no read of its own here."""
    state = _state(request)
    if "visitor" in state:
        return state["visitor"]
    user = load_current_user(request)
    holder = state["learner"]
    learner = holder.get()
    if user is None:
        if learner_account is _MISSING:
            learner_account = accounts.learner_account(request.app.state.sessions, learner)
        if learner_account is not None:
            # An account's learner: its cookie alone (a copy, or one kept after logging out) does not act for
            # the account, so this browser starts over as a new anonymous learner.
            learner = holder.switch()
        visitor = Visitor(None, learner, (learner,))
    else:
        owned = state.pop("owned_learners", None)
        if owned is None:  # signed in during this request
            owned = accounts.owned_learners(request.app.state.sessions, user.id)
        if learner not in owned:
            # A signed-in browser with a learner the account does not own yet (a cleared cookie, say).
            learner = _claim(request, user)
            owned = sorted({*owned, learner})
        visitor = Visitor(user, learner, tuple(owned))
    state["visitor"] = visitor
    return visitor


def _claim(request: Request, user: User) -> str:
    holder = _state(request)["learner"]
    learner = accounts.claim_learner(request.app.state.sessions, user.id, holder.get())
    if learner != holder.get():
        holder.switch(learner)
    return learner


def _start_session(request: Request, user: User) -> None:
    session = request.session
    session.clear()
    session.update(user=user.id, version=user.session_version, nonce=secrets.token_urlsafe(16))
    state = _state(request)
    state["user"] = user
    state.pop("visitor", None)
    state.pop("owned_learners", None)  # another account's, if one was signed in before


def sign_in(request: Request, user: User) -> None:
    """A new session cookie for `user`, and this browser's anonymous progress claimed by the account."""
    _start_session(request, user)
    _claim(request, user)


def register(request: Request, email: str, password: str, display_name: str) -> User:
    limit_auth_attempt(request, "register", email)
    user = accounts.create_user(request.app.state.sessions, email, password, display_name)
    sign_in(request, user)
    return user


def log_in(request: Request, email: str, password: str) -> User:
    limit_auth_attempt(request, "login", email)
    user = accounts.authenticate(request.app.state.sessions, email, password)
    sign_in(request, user)
    return user


def log_out(request: Request) -> None:
    """End this session; the browser starts over as a new anonymous learner, so the next person
    on a shared computer neither sees nor adds to this account's progress. The session is ended on the
    server too, so a copy of its cookie stops working."""
    nonce = request.session.get("nonce")
    if nonce:
        max_age = timedelta(days=request.app.state.settings.session_max_age_days)
        accounts.end_session(request.app.state.sessions, str(nonce), utcnow() - max_age)
    request.session.clear()
    state = _state(request)
    state["user"] = None
    state.pop("visitor", None)
    state.pop("owned_learners", None)
    state["learner"].switch()


def log_out_everywhere(request: Request, user: User) -> None:
    accounts.end_all_sessions(request.app.state.sessions, user.id)
    log_out(request)


def change_password(request: Request, user: User, current: str, new: str) -> None:
    """New password; every other session ends, this one carries on with a fresh cookie."""
    limit_auth_attempt(request, "password", user.email)
    user.session_version = accounts.change_password(request.app.state.sessions, user.id, current, new)
    _start_session(request, user)


OptionalUser = Annotated[User | None, Depends(load_current_user)]
CurrentUser = Annotated[User, Depends(require_user)]
CurrentVisitor = Annotated[Visitor, Depends(current_visitor)]
