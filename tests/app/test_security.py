"""The outer defences on every response: CSP and security headers, trusted hosts, trusted proxies,
the JSON body cap, truncated echoes, and the API docs (off in production, local when on)."""

import re

import pytest

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.clients import PASSWORD, CourseClient


def _app(tmp_path, **settings):
    config = Settings(data_dir=tmp_path, **settings)
    migrate(config.resolved_database_url)
    return create_app(config)


@pytest.mark.parametrize("path", ["/", "/api/chapters", "/login", "/cohorts/new", "/admin", "/no-such-page"])
def test_every_response_carries_the_csp_and_security_headers(client, path):
    response = client.get(path, follow_redirects=False)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY" and response.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers  # http base URL


def test_hsts_is_sent_when_the_base_url_is_https(https_app):
    response = CourseClient(https_app, base_url="https://course.example").get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_no_page_has_an_inline_script_or_handler(client, course):
    import re

    for path in ["/", f"/chapters/{course.chapters[1].slug}", "/login", "/labs/runs"]:
        html = client.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=", html), path


def test_a_host_header_not_in_the_trusted_hosts_is_refused_and_never_reflected(tmp_path):
    app = _app(tmp_path, base_url="https://course.example.org", environment="production", secret_key="k" * 40)
    client = CourseClient(app, base_url="https://course.example.org")
    assert client.get("/healthz").status_code == 200
    for path in ("/account", "/api/chapters/"):  # a login redirect; a trailing-slash redirect (absolute URL)
        evil = client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
        assert evil.status_code == 400 and "evil.example" not in evil.headers.get("location", "")


def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path):
    def attempts_until_limited(app, peer, forwarded_for):
        statuses = []
        for n in range(4):
            client = CourseClient(app, client=(peer, 1))
            headers = {"x-forwarded-for": forwarded_for(n)}
            statuses.append(client.post("/api/auth/login", json={"email": f"u{n}@example.org", "password": "x"},
                                        headers=headers).status_code)
        return statuses

    untrusted = _app(tmp_path / "a", auth_rate_limit_per_ip="2/minute")
    assert attempts_until_limited(untrusted, "203.0.113.7", lambda n: f"198.51.100.{n}") == [401, 401, 429, 429]
    behind_proxy = _app(tmp_path / "b", auth_rate_limit_per_ip="2/minute", trusted_proxies="10.9.0.0/16")
    assert attempts_until_limited(behind_proxy, "10.9.0.1", lambda n: f"198.51.100.{n}") == [401, 401, 401, 401]


def test_a_json_body_over_the_cap_is_refused_with_413(tmp_path):
    client = CourseClient(_app(tmp_path, max_json_body_bytes=2_000))
    response = client.post("/api/auth/login", json={"email": "a@example.org", "password": "x" * 5_000})
    assert response.status_code == 413 and "2,000 bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"email": "a@example.org", "password": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    streamed = client.post("/api/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_an_over_long_value_is_not_echoed_back_whole(client):
    response = client.post("/api/labs/runs", json={"recipe": "r" * 100_000, "base": "tiny"})
    assert response.status_code == 422 and len(response.text) < 1_000
    unknown = client.post("/api/labs/runs", json={"k" * 100_000: 1})
    assert unknown.status_code == 422 and len(unknown.text) < 1_000


def test_the_api_docs_are_off_in_production(tmp_path):
    client = CourseClient(_app(tmp_path, environment="production", secret_key="k" * 40), base_url="http://127.0.0.1")
    assert client.get("/api/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_the_api_docs_in_development_load_swagger_ui_from_this_server(client):
    html = client.get("/api/docs").text
    assert "cdn" not in html.lower() and "https://" not in html
    bundle = re.search(r'<script src="(/static/vendor/swagger-ui-bundle\.[0-9a-f]{12}\.js)">', html).group(1)
    assert client.get(bundle).status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Fine-Tuning in Practice"



def test_on_https_the_cookies_carry_the_host_prefix_and_a_planted_plain_one_is_ignored(https_app):
    attacker = CourseClient(https_app, base_url="https://course.example")
    response = attacker.post("/api/auth/register", json={"email": "planter@example.org", "password": PASSWORD,
                                                          "display_name": "Planter"})
    assert response.status_code == 201
    set_cookies = {h.split("=")[0]: h.lower() for h in response.headers.get_list("set-cookie")}
    assert set(set_cookies) == {"__Host-session", "__Host-csrftoken", "__Host-learner"}
    for header in set_cookies.values():  # what the prefix requires, or a browser drops the cookie
        assert "; secure" in header and "path=/" in header and "domain=" not in header
    # A sibling subdomain can set only cookies without the prefix (for the parent domain): its own signed-in
    # session, planted so, does not sign the victim in as the attacker.
    victim = CourseClient(https_app, base_url="https://course.example")
    victim.cookies.set("session", attacker.cookies["__Host-session"])
    assert victim.get("/api/auth/me").status_code == 401
    assert attacker.get("/api/auth/me").status_code == 200
