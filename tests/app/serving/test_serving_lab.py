"""Chapter 6's serving lab with the real model server and really trained adapters: the form without JavaScript (a
full page) and with htmx (a fragment), the 503 while the server starts, answers side by side with their timings,
the batch view (another learner's adapters unnamed), the `openai` snippet with the learner's URL and key name,
refusals that name the field, and deleting a run, which unloads its adapter."""

import asyncio
import re
import time

import pytest
from fastapi.testclient import TestClient

from app.serving.catalog import servable_models
from app.serving.keys import create_key
from app.serving.model_server import get_model_client
from tests.app.serving.conftest import BASE, add_run_row, give_runs, learner_id
from tests.clients import CourseClient

CHAPTER = "/chapters/deployment"
PROMPT = "My landlord is keeping my deposit after I moved out. What should I do?"


@pytest.fixture(scope="module")
def running_app(serving_app):
    """The app with its lifespan entered once for the module: the model server started by the first comparison
    lives until the module ends, as it would in a server, instead of stopping with every test client."""
    with TestClient(serving_app):
        yield serving_app


def _learner(app, trained: list[dict] | None = None) -> tuple[CourseClient, str, list[str]]:
    """A new browser (its own learner cookie), with copies of `trained` as its succeeded runs."""
    client = CourseClient(app)
    owner = learner_id(client, app)
    return client, owner, give_runs(app, owner, trained or [])


def _names(run_ids: list[str]) -> list[str]:
    return [f"ft:{BASE}:legal-format:{run_id[:8]}" for run_id in run_ids]


def _compare(client, models: list[str], htmx: bool = False, timeout_s: float = 400):
    """Post the form until the model server answers (a person would press the button again after the wait);
    (the final response, the 503 responses before it)."""
    headers = {"HX-Request": "true"} if htmx else {}
    waits, deadline = [], time.monotonic() + timeout_s
    while True:
        response = client.post("/labs/serving/compare", data={"prompt": PROMPT, "system": "", "models": models},
                               headers=headers)
        if response.status_code != 503:
            return response, waits
        waits.append(response)
        assert time.monotonic() < deadline, "the model server never answered"
        time.sleep(1)


def test_with_fewer_than_two_adapters_the_lab_says_so_and_links_the_training_lab(running_app, trained_runs):
    client, _, _ = _learner(running_app)
    page = client.get(CHAPTER).text
    assert 'id="serving-needs-adapters"' in page and "none that has finished training" in page
    assert 'href="/chapters/fine-tuning-pipeline#lab-training"' in page and 'id="serving-lab-form"' not in page

    one, _, _ = _learner(running_app, trained_runs[:1])
    assert "only one that has finished training" in one.get(CHAPTER).text


def test_the_lab_lists_the_learners_adapters_and_a_snippet_with_their_url_and_key_name(running_app, trained_runs):
    client, owner, run_ids = _learner(running_app, trained_runs)
    page = client.get(CHAPTER).text
    for name in _names(run_ids):
        assert f'name="models" value="{name}" checked' in page
    base_url = running_app.state.settings.base_url + "/v1"
    assert f'base_url="{base_url}"' in page and "You have no API key yet" in page
    assert 'href="/account/keys"' in page

    _, secret = create_key(running_app.state.sessions, owner, [owner], None, "laptop notebook", 5)
    page = client.get(CHAPTER).text
    assert "<strong>laptop notebook</strong>" in page and secret not in page and secret[:12] not in page


def test_without_javascript_the_form_answers_with_a_full_page_of_answers_side_by_side(running_app, trained_runs):
    client, _, run_ids = _learner(running_app, trained_runs)
    response, waits = _compare(client, _names(run_ids))
    for wait in waits:  # while the server starts or loads the base: a page that says so, and when to retry
        assert int(wait.headers["Retry-After"]) > 0 and 'id="serving-lab-wait"' in wait.text
        assert "<html" in wait.text and 'id="serving-lab-form"' in wait.text
    assert response.status_code == 200, response.text
    page = response.text
    assert "<html" in page and 'id="serving-lab-form"' in page  # the form again, as it was sent
    shown = re.findall(r'class="serving-answer" data-model="([^"]+)"', page)
    assert shown[0] == BASE and sorted(shown[1:]) == sorted(_names(run_ids))  # the base first, each adapter once
    assert page.count("tokens/s while decoding") == 3 and page.count("generated tokens") == 3
    table = page[page.index('id="serving-batches"'):]
    for name in _names(run_ids):  # the routing view: each adapter's request in a batch of that adapter
        assert re.search(rf"<td>{re.escape(name)}</td><td>\d+</td>\s*<td><code>{re.escape(name)}</code>", table)


def test_with_htmx_the_answers_come_as_a_fragment(running_app, trained_runs):
    client, _, run_ids = _learner(running_app, trained_runs)
    response, _ = _compare(client, _names(run_ids), htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="serving-answers"' in response.text
    assert len(re.findall(r'class="serving-answer"', response.text)) == 3


def test_the_batch_view_never_names_another_learners_adapter(running_app, trained_runs):
    alice, _, alices = _learner(running_app, trained_runs)
    bob, _, bobs = _learner(running_app, trained_runs)
    _compare(alice, _names(alices))
    response, _ = _compare(bob, _names(bobs))
    table = response.text[response.text.index('id="serving-batches"'):]
    assert "another learner&#39;s adapter" in table or "another learner's adapter" in table
    for run_id in alices:
        assert run_id[:8] not in response.text


def test_choices_that_cannot_be_used_are_refused_naming_the_field(running_app, trained_runs):
    client, _, run_ids = _learner(running_app, trained_runs)
    _, _, others = _learner(running_app, trained_runs[:1])
    cases = [({"prompt": PROMPT, "models": _names(run_ids)[:1]}, "models: choose at least 2"),
             ({"prompt": PROMPT, "models": [_names(run_ids)[0], _names(others)[0]]}, "is not one of your adapters"),
             ({"prompt": "  ", "models": _names(run_ids)}, "prompt: write a question"),
             ({"prompt": "x" * 2001, "models": _names(run_ids)}, "prompt: at most 2000 characters")]
    for data, message in cases:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post("/labs/serving/compare", data=data, headers=headers)
            assert response.status_code == 422 and message in response.text.replace("&#39;", "'")


def test_the_form_is_refused_without_its_csrf_token(running_app, trained_runs):
    plain = TestClient(running_app)
    plain.get(CHAPTER)
    response = plain.post("/labs/serving/compare", data={"prompt": PROMPT, "models": []})
    assert response.status_code == 403


def _health(app) -> dict:
    return asyncio.run(get_model_client(app).health())


def test_deleting_a_run_unloads_its_adapter_and_removes_its_files(running_app, trained_runs):
    client, owner, run_ids = _learner(running_app, trained_runs)
    _compare(client, _names(run_ids))  # both adapters are now loaded next to the base
    assert set(run_ids) <= set(_health(running_app)["bases"][BASE]["adapters"])
    stranger = CourseClient(running_app)
    assert stranger.delete(f"/api/labs/runs/{run_ids[0]}").status_code == 404  # not theirs: as if it did not exist

    assert client.delete(f"/api/labs/runs/{run_ids[0]}").status_code == 204
    assert run_ids[0] not in _health(running_app)["bases"][BASE]["adapters"]
    assert run_ids[1] in _health(running_app)["bases"][BASE]["adapters"]
    assert not (running_app.state.settings.data_dir / "runs" / run_ids[0]).exists()
    assert client.get(f"/api/labs/runs/{run_ids[0]}").status_code == 404
    served = [m.id for m in servable_models(running_app.state.sessions, [owner], running_app.state.settings)]
    assert _names(run_ids)[0] not in served and _names(run_ids)[1] in served

    # The run page's button does the same, then shows the remaining runs.
    response = client.post(f"/labs/runs/{run_ids[1]}/delete", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/labs/runs"
    assert run_ids[1] not in _health(running_app)["bases"][BASE]["adapters"]


def test_a_run_still_queued_or_running_cannot_be_deleted(running_app):
    client, owner, _ = _learner(running_app)
    run_id = add_run_row(running_app, owner, status="running")  # no handle: the scheduler leaves it alone
    response = client.delete(f"/api/labs/runs/{run_id}")
    assert response.status_code == 409 and "cancel it first" in response.json()["detail"]
    assert (running_app.state.settings.data_dir / "runs" / run_id).exists()
    assert "Delete this run" not in client.get(f"/labs/runs/{run_id}").text
