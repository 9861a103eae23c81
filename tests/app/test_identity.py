"""Sessions end when the user ends them: a copied session cookie dies at logout, a copied learner
cookie never acts for the account that claimed it, and the CSRF token belongs to one session."""

from fastapi.testclient import TestClient

from tests.clients import CourseClient


def _answered(client) -> int:
    return sum(chapter["answered"] for chapter in client.get("/api/me/progress").json()["chapters"])


def _copy_cookie(source, name: str) -> CourseClient:
    thief = CourseClient(source.app)
    thief.cookies.set(name, source.cookies[name])
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
