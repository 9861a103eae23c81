"""The account pages: register, log in and out with plain forms (no JavaScript needed), refused forms
that come back as typed and say why, the account page, and the header that knows who is logged in."""

import re

from fastapi.testclient import TestClient

from tests.clients import PASSWORD, CourseClient

SCRIPT = "<script>alert(1)</script>"


def _hidden_token(html: str) -> str:
    return re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)


def test_registering_with_the_form_alone_works_without_javascript(app):
    browser = TestClient(app)
    page = browser.get("/register")
    assert page.status_code == 200 and 'autocomplete="new-password"' in page.text
    response = browser.post(
        "/register",
        data={"display_name": "Form Person", "email": "form.person@example.org", "password": PASSWORD,
              "csrftoken": _hidden_token(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account?notice=welcome"
    account = browser.get(response.headers["location"]).text
    assert "Form Person" in account and "Your account is ready" in account


def test_a_refused_registration_comes_back_as_typed_without_the_password(client):
    page = client.post("/register", data={"display_name": "Kept Name", "email": "kept@example.org", "password": "tiny"})
    assert page.status_code == 422
    assert "password: use at least 10 characters" in page.text and 'role="alert"' in page.text
    assert 'value="kept@example.org"' in page.text and 'value="Kept Name"' in page.text
    assert 'value="tiny"' not in page.text
    assert re.search(r'id="f-password"[^>]*aria-invalid="true"', page.text)


def test_a_wrong_login_says_so_and_keeps_the_email(client, people):
    email = people.learner().user["email"]
    page = client.post("/login", data={"email": email, "password": "not it at all"})
    assert page.status_code == 401 and "The email or the password is wrong." in page.text
    assert f'value="{email}"' in page.text


def test_logging_in_returns_to_the_page_asked_for_but_never_to_another_site(client, people):
    email = people.learner().user["email"]
    response = client.post("/login", data={"email": email, "password": PASSWORD, "next": "/cohorts/join?code=AB"},
                           follow_redirects=False)
    assert response.headers["location"] == "/cohorts/join?code=AB"
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        response = client.post("/login", data={"email": email, "password": PASSWORD, "next": evil},
                               follow_redirects=False)
        assert response.headers["location"] == "/account?notice=logged-in"


def test_a_page_that_needs_an_account_sends_the_browser_to_log_in_and_back(client):
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Faccount"
    assert 'name="next" value="/account"' in client.get("/login?next=%2Faccount").text


def test_the_header_offers_login_when_anonymous_and_the_account_when_logged_in(client, people):
    assert 'href="/login"' in client.get("/").text and "Your account" not in client.get("/").text
    learner = people.learner()
    html = learner.get("/").text
    assert 'href="/account"' in html and 'href="/cohorts"' not in html and 'href="/admin"' not in html
    instructor_html = people.instructor().get("/").text
    assert 'href="/cohorts"' in instructor_html and 'href="/admin"' not in instructor_html
    assert 'href="/admin"' in people.admin().get("/").text


def test_the_account_page_shows_progress_cohorts_and_escapes_names(people, course):
    instructor = people.instructor()
    cohort = instructor.post("/api/cohorts", json={"name": f"Cohort {SCRIPT}"}).json()
    learner = people.learner(f"Name {SCRIPT}")
    learner.post("/api/cohorts/join", json={"code": cohort["join_code"]})
    learner.get(course.chapters[0].url)
    html = learner.get("/account").text
    assert SCRIPT not in html and "Name &lt;script&gt;" in html and "Cohort &lt;script&gt;" in html
    assert "<strong>1 of 10</strong> chapters opened" in html


def test_logging_out_with_the_form_goes_home_logged_out(people):
    learner = people.learner()
    response = learner.post("/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert learner.get("/api/auth/me").status_code == 401


def test_log_out_everywhere_from_the_account_page(app, people):
    learner = people.learner()
    phone = CourseClient(app)
    phone.log_in(learner.user["email"])
    response = learner.post("/account/logout-everywhere", follow_redirects=False)
    assert response.headers["location"] == "/login?notice=everywhere"
    assert phone.get("/account", follow_redirects=False).status_code == 303
    assert "logged out on every device" in learner.get("/login?notice=everywhere").text


def test_changing_the_password_with_the_form(people):
    learner = people.learner()
    refused = learner.post("/account/password", data={"current_password": "wrong one!", "new_password": "x"})
    assert refused.status_code == 422 and "current_password: this is not your current password" in refused.text
    ok = learner.post("/account/password", data={"current_password": PASSWORD, "new_password": "another passphrase"},
                      follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/account?notice=password"


def test_a_notice_is_chosen_by_key_so_a_link_cannot_write_on_the_page(client):
    html = client.get("/login?notice=You+have+won").text
    assert "You have won" not in html
