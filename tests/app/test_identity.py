"""Sessions end when the user ends them: a copied session cookie dies at logout, a copied learner
cookie never acts for the account that claimed it, and the CSRF token belongs to one session."""

import uuid

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer

from app.lab_runs import store
from tests.clients import PASSWORD, CourseClient


def _answered(client) -> int:
    return sum(chapter["answered"] for chapter in client.get("/api/me/progress").json()["chapters"])


def _copy_cookie(source, name: str) -> CourseClient:
    thief = CourseClient(source.app)
    original = next(cookie for cookie in source.cookies.jar if cookie.name == name)
    thief.cookies.set(name, original.value, domain=original.domain)  # as the browser would send it back
    return thief


def test_a_copied_session_cookie_stops_working_at_a_plain_logout(people):
    learner = people.learner()
    thief = _copy_cookie(learner, "session")
    assert thief.get("/api/auth/me").status_code == 200
    assert learner.post("/api/auth/logout").status_code == 204
    assert thief.get("/api/auth/me").status_code == 401
    learner.log_in(learner.user["email"])  # the account itself is fine: a new login works
    assert learner.get("/api/auth/me").status_code == 200


def test_a_learner_cookie_claimed_by_an_account_neither_reads_nor_writes_its_progress(people, course):
    learner = people.learner()
    chapter = course.chapters[0]
    learner.answer(chapter, chapter.meta.quiz[0], chapter.meta.quiz[0].options[0].id)
    before = _answered(learner)
    assert before == 1
    thief = _copy_cookie(learner, "learner")  # copied while signed in, used after "log out everywhere"
    learner.post("/api/auth/logout-everywhere")

    assert _answered(thief) == 0
    thief.answer(chapter, chapter.meta.quiz[1], chapter.meta.quiz[1].options[0].id)
    learner.log_in(learner.user["email"])
    assert _answered(learner) == before


def _learner_of(client) -> str:
    return URLSafeSerializer(client.app.state.settings.secret_key, salt="learner-cookie").loads(client.cookies["learner"])


def _end_by_logout_everywhere(learner) -> None:
    assert learner.post("/api/auth/logout-everywhere").status_code == 204


def _end_by_password_change(learner) -> None:
    body = {"current_password": PASSWORD, "new_password": PASSWORD + " changed"}
    assert learner.post("/api/auth/password", json=body).status_code == 204
    assert learner.post("/api/auth/logout").status_code == 204


@pytest.mark.parametrize("end_sessions", [_end_by_logout_everywhere, _end_by_password_change])
def test_a_copied_learner_cookie_never_reaches_the_accounts_runs_nor_writes_its_quiz_answers(
        people, course, tmp_path, end_sessions):
    learner = people.learner()
    chapter = course.chapters[0]
    learner.answer(chapter, chapter.meta.quiz[0], chapter.meta.quiz[0].options[0].id)
    account_learner = _learner_of(learner)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text('{"type": "log", "message": "the account\'s own run"}\n')
    run = store.create_run(learner.app.state.sessions, uuid.uuid4().hex, account_learner, "legal-format", "tiny",
                           {}, run_dir, "local")
    assert learner.get(f"/api/labs/runs/{run.id}").status_code == 200  # the account itself sees it
    thief = _copy_cookie(learner, "learner")
    end_sessions(learner)

    assert run.id not in [listed["id"] for listed in thief.get("/api/labs/runs").json()]
    assert thief.get(f"/api/labs/runs/{run.id}").status_code == 404
    assert thief.get(f"/api/labs/runs/{run.id}/events").status_code == 404
    assert thief.get(f"/labs/runs/{run.id}").status_code == 404
    assert _learner_of(thief) != account_learner  # the copy was swapped for a fresh anonymous learner
    thief.answer(chapter, chapter.meta.quiz[1], chapter.meta.quiz[1].options[0].id)
    assert _answered(thief) == 1  # its own answer, on its own fresh learner

    password = PASSWORD + " changed" if end_sessions is _end_by_password_change else PASSWORD
    learner.log_in(learner.user["email"], password)
    assert _answered(learner) == 1  # the thief's answer never joined the account


def test_a_csrf_token_from_another_session_is_refused_once_signed_in(people, course):
    victim = people.learner()
    attacker = people.learner()
    chapter = course.chapters[0]
    url = f"/api/chapters/{chapter.slug}/quiz/{chapter.meta.quiz[0].id}"
    planted = attacker.cookies["csrftoken"]  # a valid, server-signed token, but of the attacker's session
    forged = TestClient(victim.app, cookies={"session": victim.cookies["session"], "csrftoken": planted})
    response = forged.post(url, json={"option": "a"}, headers={"x-csrftoken": planted})
    assert response.status_code == 403
    assert victim.post(url, json={"option": chapter.meta.quiz[0].options[0].id}).status_code == 200


def test_logging_in_issues_a_token_for_the_new_session(app):
    client = CourseClient(app)
    anonymous_token = client.csrf_token()
    client.register()
    assert client.cookies["csrftoken"] != anonymous_token
    stale = client.post("/api/auth/logout", headers={"x-csrftoken": anonymous_token})
    assert stale.status_code == 403


def test_a_signed_in_answer_reads_the_account_and_its_learners_at_once_and_writes_once(people, course, monkeypatch):
    from app import accounts, progress
    from app.db import read_rows, write_rows

    learner = people.learner()
    chapter = next(c for c in course.chapters if c.meta.quiz)
    question = chapter.meta.quiz[0]
    learner.answer(chapter, question, question.options[0].id)  # this browser's learner is the account's now
    reads, writes = [], []
    monkeypatch.setattr(accounts, "read_rows", lambda *args: reads.append(args[1]) or read_rows(*args))
    monkeypatch.setattr(progress, "write_rows", lambda *args: writes.append(args[1]) or write_rows(*args))
    learner.answer(chapter, question, question.options[1].id)
    assert len(reads) == 1 and "FROM users" in reads[0] and "learners" in reads[0]
    assert len(writes) == 1
    assert _answered(learner) == 1  # the latest answer counts, once


def test_logging_in_as_another_account_acts_for_that_account_only(people, course):
    first, second = people.learner(), people.learner()
    chapter = next(c for c in course.chapters if c.meta.quiz)
    question = chapter.meta.quiz[0]
    first.answer(chapter, question, question.options[0].id)
    email = second.get("/api/auth/me").json()["email"]
    assert first.log_in(email).status_code == 200  # the first browser signs in as the second account
    first.answer(chapter, chapter.meta.quiz[1], chapter.meta.quiz[1].options[0].id)
    assert _answered(first) == _answered(second) == 1  # the second account's answer, not the first's


def test_the_page_header_renders_without_a_user_when_the_database_fails_its_read(tmp_path):
    # The session's read is a bare DBAPI statement (accounts.session_user); a failing database raises the driver's
    # own error there, which must still reach signed_in_user as SQLAlchemy's class, or an error page about the
    # database would itself fail while rendering its header.
    from types import SimpleNamespace

    from starlette.requests import Request

    from app.db import create_db_engine, make_session_factory
    from app.identity import signed_in_user

    unmigrated = make_session_factory(create_db_engine(f"sqlite:///{tmp_path / 'no-tables.db'}"))  # every read fails
    request = Request({"type": "http", "app": SimpleNamespace(state=SimpleNamespace(sessions=unmigrated)),
                       "session": {"user": 1, "nonce": "n", "version": 0}})
    assert signed_in_user(request) is None
