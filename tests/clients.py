"""Test clients that behave like a browser with JavaScript: each has its own cookies and its own client
address, and sends the CSRF header on every state-changing request, as htmx does from <body>.

`People(app)` makes signed-up clients by role; tests that check the CSRF refusal use a plain TestClient.
"""

import itertools
import uuid

from fastapi.testclient import TestClient

from app.accounts import set_role

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
PASSWORD = "a long enough test passphrase"
_addresses = itertools.count(1)


def _next_address() -> str:
    # Rate limits count per address; a fresh one per client keeps tests from sharing a budget.
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


class CourseClient(TestClient):
    def __init__(self, app, **kwargs):
        kwargs.setdefault("client", (_next_address(), 50000))
        super().__init__(app, **kwargs)
        self.user: dict | None = None

    def request(self, method, url, **kwargs):
        if method.upper() not in SAFE_METHODS:
            headers = dict(kwargs.get("headers") or {})
            if not any(name.lower() == "x-csrftoken" for name in headers):
                headers["x-csrftoken"] = self.csrf_token()
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)

    def csrf_token(self) -> str:
        name = "__Host-csrftoken" if str(self.base_url).startswith("https://") else "csrftoken"
        if name not in self.cookies:
            self.get("/healthz")
        return self.cookies[name]

    def register(self, display_name: str | None = None, email: str | None = None, password: str = PASSWORD) -> dict:
        email = email or f"{uuid.uuid4().hex[:12]}@example.org"
        response = self.post(
            "/api/auth/register",
            json={"email": email, "password": password, "display_name": display_name or f"Learner {email[:6]}"},
        )
        assert response.status_code == 201, response.text
        self.user = response.json()
        return self.user

    def log_in(self, email: str, password: str = PASSWORD):
        return self.post("/api/auth/login", json={"email": email, "password": password})

    def answer(self, chapter, question, option_id: str) -> dict:
        """Answer through the JSON API, as the quiz does; the grading."""
        response = self.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", json={"option": option_id})
        assert response.status_code == 200, response.text
        return response.json()


def wrong_option(question, index: int = 0):
    return [option for option in question.options if not option.correct][index]


class People:
    """Signed-up clients of one app: `people.learner()`, `people.instructor()`, `people.admin()`."""

    def __init__(self, app):
        self.app = app

    def anonymous(self) -> CourseClient:
        return CourseClient(self.app)

    def _with_role(self, role: str, display_name: str | None) -> CourseClient:
        client = CourseClient(self.app)
        user = client.register(display_name)
        if role != "learner":
            set_role(self.app.state.sessions, user["id"], role)
            client.user["role"] = role
        return client

    def learner(self, display_name: str | None = None) -> CourseClient:
        return self._with_role("learner", display_name)

    def instructor(self, display_name: str | None = None) -> CourseClient:
        return self._with_role("instructor", display_name)

    def admin(self, display_name: str | None = None) -> CourseClient:
        return self._with_role("admin", display_name)
