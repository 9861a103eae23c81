"""What admins and instructors see of serving: the admin's serving limits (kept in the database, checked against
the settings' bounds, enforced by /api/keys and /v1 at once), and the served adapters of an instructor's cohort."""

import re
import uuid

import pytest

from app.accounts import owned_learners
from app.db import migrate
from app.lab_runs import store
from app.main import create_app
from app.settings import Settings
from tests.clients import People


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory):
    """An app of its own: the limits changed here must not reach other tests."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("serving-admin"))
    migrate(settings.resolved_database_url)
    return create_app(settings)


@pytest.fixture
def folks(admin_app) -> People:
    return People(admin_app)


def _set(admin, name: str, value, **extra):
    return admin.post("/admin/serving", data={"name": name, "value": str(value), **extra}, follow_redirects=False)


def test_only_an_admin_sees_or_changes_the_serving_limits(folks):
    learner, instructor, admin = folks.learner(), folks.instructor(), folks.admin()
    for person in (learner, instructor):
        assert person.get("/admin/serving").status_code == 403
        assert _set(person, "serving_max_tokens", 1).status_code == 403
    page = admin.get("/admin/serving")
    assert page.status_code == 200 and "serving_tokens_per_minute" in page.text and 'value="20000"' in page.text
    assert 'href="/admin/serving"' in admin.get("/admin").text


def test_a_value_outside_the_settings_bounds_is_refused_naming_the_range(folks):
    admin = folks.admin()
    refused = _set(admin, "serving_max_tokens", 40_000)
    assert refused.status_code == 422 and "serving_max_tokens: 40000 is outside the allowed range 1 to 32768" in refused.text
    assert _set(admin, "serving_max_tokens", "lots").status_code == 422
    assert _set(admin, "secret_key", 3).status_code == 422
    assert 'value="256"' in admin.get("/admin/serving").text


def test_the_keys_cap_an_admin_sets_is_enforced_and_resetting_restores_the_setting(folks):
    admin, learner = folks.admin(), folks.learner()
    assert _set(admin, "serving_keys_per_user", 1).headers["location"] == "/admin/serving?saved=serving_keys_per_user"
    assert learner.post("/api/keys", json={"name": "first"}).status_code == 201
    refused = learner.post("/api/keys", json={"name": "second"})
    assert refused.status_code == 409 and "serving_keys_per_user = 1" in refused.json()["detail"]
    assert _set(admin, "serving_keys_per_user", "", reset="1").status_code == 303
    assert learner.post("/api/keys", json={"name": "second"}).status_code == 201


def test_the_max_tokens_cap_an_admin_sets_is_what_v1_enforces(folks):
    admin, learner = folks.admin(), folks.learner()
    key = learner.post("/api/keys", json={"name": "cap"}).json()["key"]
    _set(admin, "serving_max_tokens", 16)
    try:
        response = learner.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                json={"model": "tiny", "max_tokens": 17, "messages": [{"role": "user", "content": "x"}]})
        error = response.json()["error"]
        assert response.status_code == 400 and error["param"] == "max_tokens" and "1 to 16" in error["message"]
    finally:
        _set(admin, "serving_max_tokens", "", reset="1")


def _succeeded_run(app, learner_id: str, tmp_path) -> str:
    """A finished run as the scheduler leaves one: its row succeeded and an adapter folder in its run dir."""
    run_id = uuid.uuid4().hex
    run_dir = tmp_path / run_id
    (run_dir / "adapter").mkdir(parents=True)
    store.create_run(app.state.sessions, run_id, learner_id, "legal-format", "micro", {}, run_dir, "local")
    store.finish(app.state.sessions, run_id, "succeeded", metrics={})
    return run_id


def test_an_instructor_lists_the_served_adapters_of_their_cohort_only(folks, admin_app, tmp_path):
    instructor, member, outsider = folks.instructor(), folks.learner("Member Mia"), folks.learner("Outsider Olaf")
    response = instructor.post("/cohorts", data={"name": "Serving cohort"}, follow_redirects=False)
    cohort_id = int(re.match(r"/cohorts/(\d+)", response.headers["location"]).group(1))
    code = re.search(r'id="join-code">([A-Z0-9-]+)<', instructor.get(f"/cohorts/{cohort_id}").text).group(1)
    assert "No learner of this cohort has a trained adapter yet" in instructor.get(f"/cohorts/{cohort_id}").text
    member.post("/cohorts/join", data={"code": code})
    mine = _succeeded_run(admin_app, owned_learners(admin_app.state.sessions, member.user["id"])[0], tmp_path)
    theirs = _succeeded_run(admin_app, owned_learners(admin_app.state.sessions, outsider.user["id"])[0], tmp_path)
    assert member.patch(f"/api/labs/runs/{mine}", json={"served_name": "mia-legal"}).json()["served_name"] == "mia-legal"
    html = instructor.get(f"/cohorts/{cohort_id}").text
    assert 'id="served-adapters"' in html and "Member Mia" in html
    assert f"ft:micro:legal-format:{mine[:8]}" in html and "mia-legal" in html and "Never" in html
    assert theirs[:8] not in html and "Outsider Olaf" not in html


def test_the_served_adapters_table_shows_the_learner_tables_page_only(folks, admin_app, tmp_path, monkeypatch):
    # a class of 1,000 with a few runs each would list thousands of adapters (and stat as many folders) per view
    from app import dashboard

    monkeypatch.setattr(dashboard, "PAGE_SIZE", 1)
    instructor, ann, bob = folks.instructor(), folks.learner("Ann Adapter"), folks.learner("Bob Adapter")
    response = instructor.post("/cohorts", data={"name": "Paged serving cohort"}, follow_redirects=False)
    cohort_id = int(re.match(r"/cohorts/(\d+)", response.headers["location"]).group(1))
    code = re.search(r'id="join-code">([A-Z0-9-]+)<', instructor.get(f"/cohorts/{cohort_id}").text).group(1)
    runs = {}
    for name, learner in (("Ann", ann), ("Bob", bob)):
        learner.post("/cohorts/join", data={"code": code})
        runs[name] = _succeeded_run(admin_app, owned_learners(admin_app.state.sessions, learner.user["id"])[0], tmp_path)
    pages = [instructor.get(f"/cohorts/{cohort_id}?page={n}").text.split('id="served-adapters"')[1] for n in (1, 2)]
    assert runs["Ann"][:8] in pages[0] and runs["Bob"][:8] not in pages[0]
    assert runs["Bob"][:8] in pages[1] and runs["Ann"][:8] not in pages[1]
