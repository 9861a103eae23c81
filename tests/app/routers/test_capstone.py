"""The capstone: linked after chapter 9 and from home, a checklist saved by form, htmx or JSON, items
detected from the learner's own succeeded lab runs, and the instructor dashboard tracking it."""

import csv
import io
import json
import uuid

from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer

from app.db import transaction
from app.lab_runs.models import Run


def _learner_id(client, app) -> str:
    client.get(app.state.course.chapters[0].url)  # mints the learner cookie and records the learner
    return URLSafeSerializer(app.state.settings.secret_key, salt="learner-cookie").loads(client.cookies["learner"])


def _succeeded_run(app, learner_id: str, overrides: dict, dataset: str | None = None, compliance_after=None):
    """A finished run row, written directly: no training process is started."""
    with transaction(app.state.sessions) as session:
        session.add(
            Run(
                id=uuid.uuid4().hex,
                learner_id=learner_id,
                recipe="legal-format",
                base="tiny",
                overrides=json.dumps(overrides),
                dataset_name=dataset,
                status="succeeded",
                run_dir="/nonexistent",
                runner="local",
                cancel_requested=False,
                metrics=json.dumps({"compliance_before": 0.2, "compliance_after": compliance_after}),
            )
        )


def test_the_course_still_lists_exactly_chapters_0_to_9(client):
    assert [c["number"] for c in client.get("/api/chapters").json()] == list(range(10))


def test_the_capstone_is_linked_after_chapter_9_and_from_the_home_page(client, course):
    last = client.get(course.chapters[-1].url).text
    assert 'rel="next" href="/capstone"' in last
    assert 'href="/capstone"' in client.get("/").text
    page = client.get("/capstone")
    assert page.status_code == 200
    assert course.capstone.meta.title in page.text and 'id="checklist"' in page.text
    assert f'href="{course.chapters[-1].url}"' in page.text


def test_ticking_items_without_javascript_saves_them_and_comes_back(client, course):
    response = client.post("/capstone/checklist", data={"ticked": ["task-written", "bar-set"]}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/capstone#checklist"
    html = client.get("/capstone").text
    assert 'value="task-written" checked' in html and 'value="bar-set" checked' in html
    assert 'value="prompt-baseline">' in html
    assert f"<strong>2 of {len(course.capstone.meta.items)}</strong> done" in html
    client.post("/capstone/checklist", data={"ticked": ["bar-set"]})
    assert client.get("/api/capstone").json()["done"] == 1, "unticking is saved too"


def test_the_htmx_form_gets_the_checklist_back(client):
    response = client.post("/capstone/checklist", data={"ticked": ["served"]}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith('<section class="capstone-checklist" id="checklist"')
    assert "Saved." in response.text and 'value="served" checked' in response.text


def test_the_api_lists_items_and_refuses_an_unknown_one_without_changing_anything(client, course):
    assert client.post("/api/capstone/checklist", json={"ticked": ["exported"]}).json()["done"] == 1
    refused = client.post("/api/capstone/checklist", json={"ticked": ["exported", "moon-landing"]})
    assert refused.status_code == 422 and "'moon-landing' is not a capstone checklist item" in refused.json()["detail"]
    body = client.get("/api/capstone").json()
    assert body["total"] == len(course.capstone.meta.items) and body["done"] == 1
    exported = next(i for i in body["items"] if i["id"] == "exported")
    assert exported == {**exported, "stage": "serving", "ticked": True, "detected": False, "done": True}
    page = client.post("/capstone/checklist", data={"ticked": ["nope"]})
    assert page.status_code == 422 and "<html" in page.text


def test_saving_the_checklist_needs_the_csrf_token(app):
    bare = TestClient(app)
    bare.get("/healthz")
    assert bare.post("/capstone/checklist", data={"ticked": ["bar-set"]}).status_code == 403


def test_succeeded_runs_tick_the_matching_items_by_themselves(client, app):
    learner = _learner_id(client, app)
    before = {i["id"]: i for i in client.get("/api/capstone").json()["items"]}
    assert not before["first-run"]["done"]
    _succeeded_run(app, learner, {"learning_rate": 0.0002}, dataset="mine.jsonl", compliance_after=0.95)
    _succeeded_run(app, learner, {"learning_rate": 0.001})
    items = {i["id"]: i for i in client.get("/api/capstone").json()["items"]}
    for item_id in ("first-run", "own-data-run", "sweep-done", "heldout-measured"):
        assert items[item_id]["detected"] and items[item_id]["done"] and not items[item_id]["ticked"], item_id
    html = client.get("/capstone").text
    assert 'value="first-run" checked disabled' in html and "Detected: a lab run of yours succeeded" in html


def test_another_learners_runs_tick_nothing_here(client, app):
    with_runs = TestClient(app)
    _succeeded_run(app, _learner_id(with_runs, app), {})
    assert not any(i["detected"] for i in client.get("/api/capstone").json()["items"])


def test_the_dashboard_tracks_each_learners_capstone(backend_people, backend_app):
    instructor = backend_people.instructor("Grace")
    cohort = instructor.post("/api/cohorts", json={"name": "Capstone cohort"}).json()
    ada, bob = backend_people.learner("Ada"), backend_people.learner("Bob")
    for learner in (ada, bob):
        learner.post("/api/cohorts/join", json={"code": cohort["join_code"]})
    ada.post("/api/capstone/checklist", json={"ticked": ["task-written", "bar-set"]})
    _succeeded_run(backend_app, _learner_id(ada, backend_app), {})
    total = len(backend_app.state.course.capstone.meta.items)

    rows = {r["display_name"]: r for r in instructor.get(f"/api/cohorts/{cohort['id']}/dashboard").json()["learners"]}
    assert rows["Ada"]["capstone"] == {
        "done": 3,
        "total": total,
        "items_done": ["task-written", "bar-set", "first-run"],
        "detected": ["first-run"],
    }
    assert rows["Bob"]["capstone"]["done"] == 0
    page = instructor.get(f"/cohorts/{cohort['id']}").text
    section = page.split('id="capstone-title"')[1].split('id="lab-runs"')[0]
    assert f"3/{total}" in section.split("Ada")[1].split("</tr>")[0] and "first-run detected" in section
    exported = {r["learner"]: r for r in csv.DictReader(io.StringIO(instructor.get(f"/api/cohorts/{cohort['id']}/export.csv").text))}
    assert (exported["Ada"]["capstone_done"], exported["Ada"]["capstone_total"]) == ("3", str(total))
