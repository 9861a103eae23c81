"""Sweeps over HTTP with real subprocesses (a quick stand-in job): launch, progress, owner-only access,
the per-owner limits counted in runs, and bad input named field by field."""

from tests.app.sweeps.conftest import wait_for_sweep


def test_a_sweep_queues_one_run_per_number_of_examples_and_reports_each(learner):
    response = learner.post("/api/labs/sweeps", json={"recipe": "legal-format", "base": "tiny",
                                                      "examples": [32, 0, 8]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "runs"} and len(body["runs"]) == 3
    done = wait_for_sweep(learner, body["id"])
    assert done["status"] == "succeeded"
    assert [(r["examples"], r["status"]) for r in done["runs"]] == [(0, "succeeded"), (8, "succeeded"),
                                                                   (32, "succeeded")]
    assert [r["compliance_after"] for r in done["runs"]] == [0.0, 0.125, 0.5]
    assert {r["id"] for r in done["runs"]} == set(body["runs"])
    # every run of the sweep is an ordinary run of the learner's, training its own number of examples
    run = learner.get(f"/api/labs/runs/{body['runs'][0]}").json()
    assert run["overrides"]["train_examples"] in (0, 8, 32)


def test_another_owners_sweep_is_not_found(learner, other_learner):
    sweep = learner.post("/api/labs/sweeps", json={"examples": [0]}).json()
    wait_for_sweep(learner, sweep["id"])
    assert other_learner.get(f"/api/labs/sweeps/{sweep['id']}").status_code == 404
    assert other_learner.get(f"/labs/sweeps/{sweep['id']}").status_code == 404
    assert other_learner.post(f"/api/labs/sweeps/{sweep['id']}/cancel").status_code == 404
    assert other_learner.get(f"/api/simulations/compliance?sweep={sweep['id']}").status_code == 404
    assert sweep["id"] not in [s["id"] for s in other_learner.get("/api/labs/sweeps").json()]


def test_the_per_owner_limit_counts_every_run_of_a_sweep(learner):
    # the app allows 6 active runs per owner: a sweep of 7 is refused whole, leaving nothing queued
    response = learner.post("/api/labs/sweeps", json={"examples": [0, 1, 2, 3, 4, 5, 6]})
    assert response.status_code == 429
    assert "these 7 runs" in response.json()["detail"] and "limit of 6" in response.json()["detail"]
    assert learner.get("/api/labs/sweeps").json() == []
    assert learner.get("/api/labs/runs").json() == []


def test_bad_sweep_fields_are_named(learner):
    cases = {
        "examples": ({"examples": [8, 8]}, "appear once"),
        "range": ({"examples": [0, 900]}, "0 to 512"),
        "empty": ({"examples": []}, "examples"),
        "recipe": ({"recipe": "nope", "examples": [0]}, "recipe"),
        "unknown": ({"examples": [0], "colour": "red"}, "colour"),
    }
    for name, (body, words) in cases.items():
        response = learner.post("/api/labs/sweeps", json=body)
        assert response.status_code == 422, (name, response.text)
        assert words in response.json()["detail"], (name, response.json())


def test_the_sweep_form_launches_and_its_page_shows_progress_without_javascript(learner):
    response = learner.post("/labs/sweeps", data={"recipe": "legal-format", "base": "tiny", "examples": "0, 16"},
                            follow_redirects=False)
    assert response.status_code == 303
    url = response.headers["location"]
    sweep_id = url.rsplit("/", 1)[-1]
    page = learner.get(url)
    assert page.status_code == 200 and "of 2 runs finished" in page.text
    wait_for_sweep(learner, sweep_id)
    page = learner.get(url).text
    assert "2 of 2 runs finished" in page and "25%" in page  # 16 examples: the stand-in's 16/64
    assert f"/simulations/compliance?sweep={sweep_id}" in page
