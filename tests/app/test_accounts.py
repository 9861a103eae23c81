"""Accounts in the database, on SQLite and PostgreSQL: creating users, claiming a browser's learner
(also when two requests claim at once), and roles."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import accounts
from app.errors import AppError
from app.progress import account_progress, record_answer, record_visit
from tests.clients import PASSWORD


def _user(sessions, role="learner"):
    return accounts.create_user(sessions, f"{uuid.uuid4().hex[:10]}@example.org", PASSWORD, "Someone", role)


def test_an_email_is_stored_lowercase_and_only_once(backend_app):
    sessions = backend_app.state.sessions
    user = accounts.create_user(sessions, f"  Mixed.{uuid.uuid4().hex[:6]}@Example.ORG ", PASSWORD, "Mixed")
    assert user.email == user.email.strip().lower() and user.role == "learner" and user.session_version == 1
    with pytest.raises(AppError) as twice:
        accounts.create_user(sessions, user.email.upper(), PASSWORD, "Again")
    assert twice.value.status_code == 409
    assert accounts.authenticate(sessions, user.email.upper(), PASSWORD).id == user.id


def test_claiming_an_anonymous_learner_moves_its_progress_to_the_account_without_copying(backend_app):
    sessions = backend_app.state.sessions
    user = _user(sessions)
    learner = str(uuid.uuid4())
    record_visit(sessions, learner, "chapter-a")
    record_answer(sessions, learner, "chapter-a", "q1", "b", True)
    assert accounts.claim_learner(sessions, user.id, learner) == learner
    assert accounts.claim_learner(sessions, user.id, learner) == learner
    assert account_progress(sessions, user.id)["chapter-a"].correct == 1


def test_a_learner_of_another_account_is_never_claimed(backend_app):
    sessions = backend_app.state.sessions
    owner, newcomer = _user(sessions), _user(sessions)
    learner = str(uuid.uuid4())
    accounts.claim_learner(sessions, owner.id, learner)
    switched = accounts.claim_learner(sessions, newcomer.id, learner)
    assert switched != learner and accounts.owned_learners(sessions, owner.id) == [learner]
    assert accounts.owned_learners(sessions, newcomer.id) == [switched]
    # Next time on that browser, the newcomer gets the same learner back rather than yet another one.
    assert accounts.claim_learner(sessions, newcomer.id, learner) == switched


def test_two_requests_claiming_a_new_learner_at_once_both_succeed(backend_app):
    sessions = backend_app.state.sessions
    user = _user(sessions)
    learner = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: accounts.claim_learner(sessions, user.id, learner), range(8)))
    assert results == [learner] * 8 and accounts.owned_learners(sessions, user.id) == [learner]


def test_the_last_admin_keeps_the_role_and_unknown_roles_are_refused(backend_app):
    sessions = backend_app.state.sessions
    admin = _user(sessions, "admin")
    for other in accounts.list_users(sessions):
        if other.role == "admin" and other.id != admin.id:
            accounts.set_role(sessions, other.id, "learner")
    with pytest.raises(AppError) as refused:
        accounts.set_role(sessions, admin.id, "learner")
    assert refused.value.status_code == 409 and refused.value.detail.startswith("role: ")
    with pytest.raises(AppError) as unknown:
        accounts.set_role(sessions, admin.id, "superuser")
    assert unknown.value.status_code == 422 and "superuser" in unknown.value.detail
