"""CSRF: every state-changing request needs the token, from the `x-csrftoken` header (htmx, API
clients) or from the hidden form field (forms without JavaScript); a refusal is a 403 with a message."""

import re

from fastapi.testclient import TestClient

from tests.clients import CourseClient


def _quiz(course):
    chapter = course.chapters[0]
    question = chapter.meta.quiz[0]
    return f"{chapter.url}/quiz/{question.id}", question.correct_option.id


def test_a_post_without_a_token_is_refused_with_json_under_api(app, course):
    chapter = course.chapters[0]
    bare = TestClient(app)
    bare.get("/")
    response = bare.post(f"/api/chapters/{chapter.slug}/quiz/{chapter.meta.quiz[0].id}", json={"option": "a"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_form_post_without_a_token_gets_a_page_and_htmx_a_fragment(app, course):
    url, option = _quiz(course)
    bare = TestClient(app)
    page = bare.post(url, data={"option": option})
    assert page.status_code == 403 and "<html" in page.text and "Reload the page" in page.text
    fragment = bare.post(url, data={"option": option}, headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and "<html" not in fragment.text and 'role="alert"' in fragment.text


def test_registering_without_a_token_creates_nothing(app):
    bare = TestClient(app)
    bare.get("/healthz")
    response = bare.post(
        "/api/auth/register",
        json={"email": "nocsrf@example.org", "password": "a fine passphrase", "display_name": "No token"},
    )
    assert response.status_code == 403
    client = CourseClient(app)
    assert client.log_in("nocsrf@example.org", "a fine passphrase").status_code == 401


def test_a_token_from_another_browser_or_a_forged_one_is_refused(app, course):
    url, option = _quiz(course)
    other = CourseClient(app)
    stolen = other.csrf_token()
    victim = TestClient(app)
    victim.get("/")
    assert victim.post(url, data={"option": option}, headers={"x-csrftoken": stolen}).status_code == 403
    victim.cookies.set("csrftoken", "forged")
    assert victim.post(url, data={"option": option}, headers={"x-csrftoken": "forged"}).status_code == 403


def test_the_header_from_the_cookie_is_accepted(app, course):
    url, option = _quiz(course)
    browser = TestClient(app)
    browser.get("/")
    token = browser.cookies["csrftoken"]
    response = browser.post(url, data={"option": option}, headers={"x-csrftoken": token}, follow_redirects=False)
    assert response.status_code == 303


def test_a_form_without_javascript_passes_with_the_hidden_field_the_page_rendered(app, course):
    url, option = _quiz(course)
    browser = TestClient(app)
    page = browser.get(course.chapters[0].url).text
    field = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)
    response = browser.post(url, data={"option": option, "csrftoken": field}, follow_redirects=False)
    assert response.status_code == 303


def test_a_multipart_form_passes_with_the_hidden_field_and_the_app_still_reads_the_body(app, course):
    url, option = _quiz(course)
    browser = TestClient(app)
    browser.get("/")
    token = browser.cookies["csrftoken"]
    response = browser.post(
        url, files={"option": (None, option), "csrftoken": (None, token)}, follow_redirects=False
    )
    assert response.status_code == 303


def test_the_first_page_carries_the_token_its_cookie_holds_in_body_and_forms(app, course):
    browser = TestClient(app)
    response = browser.get(course.chapters[1].url)
    token = response.cookies["csrftoken"]
    assert f"hx-headers:inherited='{{\"x-csrftoken\": \"{token}\"}}'" in response.text
    forms = len(course.chapters[1].meta.quiz) + len(course.chapters[1].meta.exercises)  # one form each
    assert response.text.count(f'name="csrftoken" value="{token}"') == forms
    assert response.text.count('name="csrftoken"') == forms  # and no form with another (or a cached) token


def test_the_csrf_cookie_is_samesite_lax_and_secure_behind_https(https_app):
    browser = TestClient(https_app, base_url="https://course.example")
    header = browser.get("/healthz").headers["set-cookie"].lower()
    assert "csrftoken=" in header and "samesite=lax" in header and "secure" in header


def test_a_cookie_this_server_did_not_sign_is_replaced(app):
    browser = TestClient(app)
    browser.cookies.set("csrftoken", "not-ours")
    response = browser.get("/healthz")
    assert response.cookies["csrftoken"] != "not-ours"


def test_a_malformed_multipart_body_is_refused_not_a_500(app, course):
    url, _ = _quiz(course)
    browser = TestClient(app)
    browser.get("/")
    response = browser.post(url, content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 403


def test_a_tokens_signature_is_checked_once_yet_the_token_still_belongs_to_its_session_only():
    from app.csrf import CACHED_TOKEN_CHARS, CourseCSRFMiddleware

    middleware = CourseCSRFMiddleware(None, secret="a test secret")
    token = middleware._bound_token("nonce-a")
    assert middleware._is_bound(token, "nonce-a") and middleware._is_bound(token, "nonce-a")
    assert middleware._verified_binding.cache_info().hits == 1
    assert not middleware._is_bound(token, "nonce-b")  # remembered, and still another session's token
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert not middleware._is_bound(forged, "nonce-a")
    entries = middleware._verified_binding.cache_info().currsize
    assert not middleware._is_bound(token + "x" * CACHED_TOKEN_CHARS, "nonce-a")
    assert middleware._verified_binding.cache_info().currsize == entries  # a long value is not remembered
