"""Rate limits: login and registration per client address and per account, answered with 429 and
Retry-After; the same limiter is there for other features (lab launches) to use."""

import pytest
from starlette.requests import Request

from app.errors import AppError
from app.rate_limits import enforce
from tests.clients import PASSWORD, CourseClient


def _limit(app) -> int:
    return int(app.state.settings.auth_rate_limit_per_ip.split("/")[0])


def test_the_sixth_login_from_one_address_in_a_minute_gets_429_with_retry_after(app, client):
    for attempt in range(_limit(app)):
        assert client.log_in(f"guess{attempt}@example.org", "wrong password!").status_code == 401
    response = client.log_in("guess-again@example.org", "wrong password!")
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert "Too many attempts" in response.json()["detail"]


def test_one_account_tried_from_many_addresses_is_limited_too(app, people):
    email = people.learner().user["email"]
    for _ in range(_limit(app)):
        assert CourseClient(app).log_in(email, "wrong password!").status_code == 401
    response = CourseClient(app).log_in(email, PASSWORD)
    assert response.status_code == 429 and "retry-after" in response.headers


def test_registration_is_limited_per_address(app, client):
    for n in range(_limit(app)):
        client.post("/api/auth/register", json={"email": f"bad{n}", "password": "x", "display_name": "x"})
    response = client.post(
        "/api/auth/register", json={"email": "late@example.org", "password": PASSWORD, "display_name": "Late"}
    )
    assert response.status_code == 429


def test_the_login_page_says_when_to_try_again(app, client):
    for _ in range(_limit(app)):
        client.post("/login", data={"email": "page@example.org", "password": "wrong password!"})
    page = client.post("/login", data={"email": "page@example.org", "password": "wrong password!"})
    assert page.status_code == 429 and "Too many attempts" in page.text and "retry-after" in page.headers
    assert 'value="page@example.org"' in page.text


def test_other_features_can_count_their_own_attempts_with_the_same_limiter(app):
    request = Request({"type": "http", "app": app, "headers": [], "client": ("10.255.0.1", 1)})
    enforce(request, "lab-launch", "2/minute", "learner-1")
    enforce(request, "lab-launch", "2/minute", "learner-1")
    enforce(request, "lab-launch", "2/minute", "learner-2")
    with pytest.raises(AppError) as limited:
        enforce(request, "lab-launch", "2/minute", "learner-1")
    assert limited.value.status_code == 429 and limited.value.headers["Retry-After"].isdigit()
