"""Accounts over JSON: register, log in and out (here and everywhere), password change, the session
cookie's flags and rotation, and the claim of this browser's anonymous progress (nothing lost, nothing
doubled)."""

import logging

import pytest
from fastapi.testclient import TestClient

from tests.clients import PASSWORD, CourseClient, wrong_option


def _progress(client) -> dict[str, dict]:
    return {c["slug"]: c for c in client.get("/api/me/progress").json()["chapters"]}


def test_registering_creates_a_learner_account_and_logs_it_in(client):
    user = client.register("Ada")
    assert user["role"] == "learner" and user["display_name"] == "Ada" and "password" not in str(user)
    assert "session" in client.cookies
    me = client.get("/api/auth/me").json()
    assert me["email"] == user["email"] and me["cohorts"] == []


def test_the_session_cookie_is_httponly_samesite_lax_and_not_secure_over_http(app):
    client = CourseClient(app)
    response = client.post(
        "/api/auth/register",
        json={"email": "flags@example.org", "password": PASSWORD, "display_name": "Flags"},
    )
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith("session="))
    assert "httponly" in header.lower() and "samesite=lax" in header.lower() and "secure" not in header.lower()


def test_the_session_cookie_is_secure_when_the_base_url_is_https(https_app):
    client = CourseClient(https_app, base_url="https://course.example")
    response = client.post(
        "/api/auth/register", json={"email": "tls@example.org", "password": PASSWORD, "display_name": "TLS"}
    )
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith("__Host-session="))
    assert "; secure" in header.lower()


def test_logging_in_issues_a_new_session_cookie_each_time(client, app):
    email = client.register()["email"]
    first = client.cookies["session"]
    response = client.log_in(email)
    assert response.status_code == 200 and response.json()["email"] == email
    assert client.cookies["session"] != first


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client):
    email = client.register()["email"]
    client.post("/api/auth/logout")
    wrong = client.log_in(email, "not the password at all")
    unknown = client.log_in("nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "The email or the password is wrong."}
    assert client.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("body", "start"),
    [
        ({"email": "x@example.org", "password": PASSWORD}, "display_name: Field required"),
        ({"email": "not-an-email", "password": PASSWORD, "display_name": "X"}, "email: enter an address"),
        ({"email": "y@example.org", "password": "short", "display_name": "Y"}, "password: use at least 10"),
        ({"email": "z@example.org", "password": PASSWORD, "display_name": "   "}, "display_name: enter the name"),
    ],
)
def test_a_refused_registration_names_the_field(client, body, start):
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422 and response.json()["detail"].startswith(start)


def test_an_email_registers_once_whatever_its_case(client, app):
    email = client.register()["email"]
    other = CourseClient(app)
    response = other.post(
        "/api/auth/register", json={"email": email.upper(), "password": PASSWORD, "display_name": "Twin"}
    )
    assert response.status_code == 409 and response.json()["detail"].startswith("email: ")


def test_no_password_reaches_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "my very secret passphrase 42"
    email = client.register(password=secret)["email"]
    client.log_in(email, secret + "x")
    client.post("/api/auth/register", json={"email": "weak@example.org", "password": "weak", "display_name": "W"})
    assert secret not in caplog.text and "weak\"" not in caplog.text


def test_logging_out_ends_the_session_and_starts_a_fresh_anonymous_learner(client, course):
    client.register()
    chapter = course.chapters[1]
    client.get(chapter.url)
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    assert not _progress(client)[chapter.slug]["opened"], "the next person at this computer sees a clean slate"


def test_log_out_everywhere_ends_every_session_even_a_copied_cookie(app):
    laptop = CourseClient(app)
    phone = CourseClient(app)
    email = laptop.register()["email"]
    phone.log_in(email)
    copied = phone.cookies["session"]
    assert laptop.post("/api/auth/logout-everywhere").status_code == 204
    assert phone.get("/api/auth/me").status_code == 401
    assert laptop.get("/api/auth/me").status_code == 401
    thief = TestClient(app)
    thief.cookies.set("session", copied)
    assert thief.get("/api/auth/me").status_code == 401


def test_changing_the_password_keeps_this_session_and_ends_the_others(app):
    laptop = CourseClient(app)
    phone = CourseClient(app)
    email = laptop.register()["email"]
    phone.log_in(email)
    new = "a different long passphrase"
    wrong = laptop.post("/api/auth/password", json={"current_password": "nope nope nope", "new_password": new})
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("current_password: ")
    weak = laptop.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 422 and weak.json()["detail"].startswith("new_password: ")
    ok = laptop.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": new})
    assert ok.status_code == 204
    assert laptop.get("/api/auth/me").status_code == 200
    assert phone.get("/api/auth/me").status_code == 401
    assert phone.log_in(email).status_code == 401 and phone.log_in(email, new).status_code == 200


def test_registering_claims_what_this_browser_did_anonymously(client, course):
    chapter = course.chapters[2]
    question = chapter.meta.quiz[0]
    client.get(chapter.url)
    client.answer(chapter, question, question.correct_option.id)
    before = _progress(client)[chapter.slug]
    client.register()
    assert _progress(client)[chapter.slug] == before == {**before, "opened": True, "answered": 1, "correct": 1}


def test_two_browsers_of_one_account_add_up_without_counting_a_question_twice(backend_app, course):
    chapter = course.chapters[3]
    first, second = chapter.meta.quiz[0], chapter.meta.quiz[1]
    laptop = CourseClient(backend_app)
    phone = CourseClient(backend_app)
    email = laptop.register()["email"]
    laptop.answer(chapter, first, wrong_option(first).id)
    # Anonymous on the phone: the same question (now right) and another one.
    phone.get(chapter.url)
    phone.answer(chapter, first, first.correct_option.id)
    phone.answer(chapter, second, second.correct_option.id)
    assert phone.log_in(email).status_code == 200
    for browser in (laptop, phone):
        p = _progress(browser)[chapter.slug]
        assert p == {**p, "opened": True, "answered": 2, "correct": 2}
    # New answers from either browser keep counting once per question.
    laptop.answer(chapter, second, wrong_option(second).id)
    assert _progress(phone)[chapter.slug]["correct"] == 1


def test_on_a_shared_computer_the_next_account_neither_sees_nor_writes_the_previous_ones_progress(backend_app, course):
    chapter = course.chapters[4]
    question = chapter.meta.quiz[0]
    someone_else = CourseClient(backend_app)
    other_email = someone_else.register()["email"]
    computer = CourseClient(backend_app)
    owner_email = computer.register()["email"]
    computer.answer(chapter, question, question.correct_option.id)
    # The owner walks away without logging out; someone else logs in on the same browser.
    assert computer.log_in(other_email).status_code == 200
    assert _progress(computer)[chapter.slug]["answered"] == 0
    computer.get(course.chapters[5].url)
    assert computer.log_in(owner_email).status_code == 200
    mine = _progress(computer)
    assert mine[chapter.slug]["answered"] == 1 and not mine[course.chapters[5].slug]["opened"]


def test_me_is_401_with_a_sentence_when_logged_out(client):
    response = client.get("/api/auth/me")
    assert response.status_code == 401 and "Log in" in response.json()["detail"]
