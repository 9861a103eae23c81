"""API keys over /api/keys and on the API keys page: the secret shown once and stored only as a hash, lists
without secrets, revoking, the per-owner cap, CSRF, and a page that works with plain forms and with htmx."""

import hashlib
import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts import owned_learners
from app.db import reading
from app.lab_runs import store
from app.lab_runs.store import get_run
from app.serving.models import ApiKey
from tests.clients import CourseClient


def _hidden_token(html: str) -> str:
    return re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(app, client):
    response = client.post("/api/keys", json={"name": "  laptop   notebook "})
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "laptop notebook" and created["key"].startswith("ftp-") and len(created["key"]) > 40
    listed = client.get("/api/keys").json()
    assert [key["id"] for key in listed] == [created["id"]]
    assert created["key"] not in client.get("/api/keys").text
    assert listed[0]["prefix"] == created["key"][:12] and listed[0]["last_used_at"] is None
    assert listed[0]["revoked_at"] is None and "key" not in listed[0] and "hash" not in listed[0]
    with reading(app.state.sessions) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
    assert row.hash == hashlib.sha256(created["key"].encode()).hexdigest() and created["key"] not in row.hash


def test_a_key_needs_a_name(client):
    for body in ({}, {"name": "   "}, {"name": 7}, {"name": "x" * 81}):
        response = client.post("/api/keys", json=body)
        assert response.status_code == 422 and response.json()["detail"].startswith("name:"), body
    assert client.get("/api/keys").json() == []


def test_revoking_a_key_marks_it_and_another_owners_key_is_not_found(client, people):
    key = client.post("/api/keys", json={"name": "mine"}).json()
    stranger = people.learner()
    assert stranger.delete(f"/api/keys/{key['id']}").status_code == 404
    assert stranger.delete("/api/keys/999999").status_code == 404
    assert client.get("/api/keys").json()[0]["revoked_at"] is None
    assert client.delete(f"/api/keys/{key['id']}").status_code == 204
    assert client.get("/api/keys").json()[0]["revoked_at"] is not None
    assert client.delete(f"/api/keys/{key['id']}").status_code == 204  # again is harmless


def test_keys_are_capped_per_owner_and_a_revoked_key_frees_a_place(client, settings):
    cap = settings.serving_keys_per_user
    ids = [client.post("/api/keys", json={"name": f"key {n}"}).json()["id"] for n in range(cap)]
    refused = client.post("/api/keys", json={"name": "one too many"})
    assert refused.status_code == 409 and f"serving_keys_per_user = {cap}" in refused.json()["detail"]
    client.delete(f"/api/keys/{ids[0]}")
    assert client.post("/api/keys", json={"name": "replacement"}).status_code == 201


def test_an_accounts_keys_include_those_made_before_registering_in_the_same_browser(client):
    before = client.post("/api/keys", json={"name": "anonymous"}).json()
    client.register()
    after = client.post("/api/keys", json={"name": "account"}).json()
    assert {key["id"] for key in client.get("/api/keys").json()} == {before["id"], after["id"]}


def test_creating_or_revoking_a_key_needs_the_csrf_token(app, client):
    browser = TestClient(app)
    assert browser.post("/api/keys", json={"name": "forged"}).status_code == 403
    key = client.post("/api/keys", json={"name": "real"}).json()
    thief = TestClient(app, cookies=dict(client.cookies))
    assert thief.delete(f"/api/keys/{key['id']}").status_code == 403
    assert client.get("/api/keys").json()[0]["revoked_at"] is None


def test_the_keys_page_creates_and_revokes_keys_with_plain_forms(app):
    browser = TestClient(app)
    page = browser.get("/account/keys")
    assert page.status_code == 200 and "You have no keys yet." in page.text
    created = browser.post("/account/keys", data={"name": "form key", "csrftoken": _hidden_token(page.text)})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key-secret">(ftp-[^<]+)<', created.text).group(1)
    assert "only time it is shown" in created.text
    assert 'data-copy-target="new-key-secret" hidden' in created.text  # shown by api-keys.js, when it runs
    listed = browser.get("/account/keys")
    assert secret not in listed.text and secret[:12] in listed.text and "form key" in listed.text
    revoke = re.search(r'action="(/account/keys/\d+/revoke)"', listed.text).group(1)
    response = browser.post(revoke, data={"csrftoken": _hidden_token(listed.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account/keys?done=revoked"
    assert "Key revoked" in browser.get(response.headers["location"]).text


def test_a_refused_form_says_why_and_htmx_gets_only_the_panel(client):
    refused = client.post("/account/keys", data={"name": ""})
    assert refused.status_code == 422 and 'role="alert"' in refused.text and "<html" in refused.text
    panel = client.post("/account/keys", data={"name": "htmx key"}, headers={"HX-Request": "true"})
    assert panel.status_code == 201 and panel.text.lstrip().startswith(("{#", "<div id=\"keys-panel\""))
    assert "<html" not in panel.text and "htmx key" in panel.text
    assert 'hx-post="/account/keys"' in panel.text and 'hx-target="#keys-panel"' in panel.text


def test_the_navigation_the_account_page_and_my_runs_link_to_the_keys_page(people):
    learner = people.learner()
    assert learner.get("/account").text.count('href="/account/keys"') == 2  # the navigation and the account
    assert 'href="/account/keys"' in CourseClient(people.app).get("/labs/runs").text


def _run_of(app, browser: CourseClient, tmp_path) -> str:
    run_id = uuid.uuid4().hex
    learner = owned_learners(app.state.sessions, browser.user["id"])[0]
    store.create_run(app.state.sessions, run_id, learner, "legal-format", "tiny", {}, tmp_path / run_id, "local")
    return run_id


def test_a_run_is_named_with_the_form_and_names_are_unique_per_owner(app, people, tmp_path):
    learner, stranger = people.learner(), people.learner()
    first, second = _run_of(app, learner, tmp_path), _run_of(app, learner, tmp_path)
    response = learner.post(f"/account/keys/runs/{first}/name", data={"served_name": "legal-v2"},
                            follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account/keys?done=named"
    assert get_run(app.state.sessions, first, owners=None).served_name == "legal-v2"
    taken = learner.post(f"/account/keys/runs/{second}/name", data={"served_name": "legal-v2"})
    assert taken.status_code == 409 and "is already called &#39;legal-v2&#39;" in taken.text
    assert learner.patch(f"/api/labs/runs/{second}", json={"served_name": "legal-v2"}).status_code == 409
    bad = learner.post(f"/account/keys/runs/{second}/name", data={"served_name": "no spaces please"})
    assert bad.status_code == 422 and "served_name: use 1 to 64 letters" in bad.text
    assert stranger.post(f"/account/keys/runs/{first}/name", data={"served_name": "mine"}).status_code == 404
    assert stranger.patch(f"/api/labs/runs/{first}", json={"served_name": "mine"}).status_code == 404
    # Another owner may use the same name for a run of their own; an empty name clears it.
    assert stranger.patch(f"/api/labs/runs/{_run_of(app, stranger, tmp_path)}",
                          json={"served_name": "legal-v2"}).status_code == 200
    assert learner.patch(f"/api/labs/runs/{first}", json={"served_name": None}).json()["served_name"] is None
    assert learner.patch(f"/api/labs/runs/{first}", json={}).status_code == 422
