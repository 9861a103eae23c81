"""The simulations with the learner's own runs drawn in: `?sweep=` on compliance, `?run=` on the loss curve,
owner-only, never cached under the plain key, honest about runs not finished, and readable without JavaScript."""

import json
import time

from app.simulation_runs import RUNS
from tests.app.sweeps.conftest import wait_for_sweep


def _finished_sweep(client, examples) -> dict:
    sweep = client.post("/api/labs/sweeps", json={"examples": examples}).json()
    return wait_for_sweep(client, sweep["id"])


def test_compliance_with_a_sweep_draws_one_measured_point_per_finished_run(learner):
    sweep = _finished_sweep(learner, [0, 16, 64])
    body = learner.get(f"/api/simulations/compliance?sweep={sweep['id']}&strictness=strict").json()
    measured = body["result"]["measured"]
    assert [(m["examples"], m["compliance"]) for m in measured] == [(0, 0.0), (16, 0.25), (64, 1.0)]
    for m in measured:
        assert 0 <= m["low"] <= m["compliance"] <= m["high"] <= 1
        assert m["high"] - m["low"] < 0.3  # 50 held-out prompts: an interval of tens of points at most
    names = [trace.get("name", "") for trace in body["figure"]["data"]]
    assert "Your runs (measured, 90% interval)" in names
    assert "Your runs:" in learner.get(f"/simulations/compliance?sweep={sweep['id']}",
                                       headers={"HX-Request": "true"}).text


def test_a_measured_answer_never_reaches_the_plain_simulation(learner):
    sweep = _finished_sweep(learner, [8])
    RUNS.clear()
    assert "measured" in learner.get(f"/api/simulations/compliance?sweep={sweep['id']}").json()["result"]
    plain = learner.get("/api/simulations/compliance").json()
    assert "measured" not in plain["result"]
    assert "Your runs" not in json.dumps(plain["figure"])


def test_a_sweep_with_no_finished_run_answers_the_model_alone_and_says_so(learner, sweep_app):
    sweep = learner.post("/api/labs/sweeps", json={"examples": [100, 101, 102]}).json()
    body = learner.get(f"/api/simulations/compliance?sweep={sweep['id']}").json()
    if "measured" in body["result"]:  # the stand-in is quick: a run may already have finished
        assert len(body["result"]["measured"]) < 3
    else:
        fragment = learner.get(f"/simulations/compliance?sweep={sweep['id']}", headers={"HX-Request": "true"}).text
        assert "no finished run yet" in fragment or "measured so far" in fragment
    wait_for_sweep(learner, sweep["id"])


def test_the_loss_curve_draws_a_run_exactly_as_measured_with_the_fitted_model(learner):
    sweep = _finished_sweep(learner, [32])
    run_id = sweep["runs"][0]["id"]
    body = learner.get(f"/api/simulations/loss-curve?run={run_id}").json()
    measured = body["result"]["measured"]
    events = [json.loads(line) for line in
              learner.get(f"/api/labs/runs/{run_id}/artifacts/events").text.splitlines()]
    losses = [e for e in events if e["type"] == "loss"]
    assert measured["step"] == [e["step"] for e in losses]
    assert measured["train_loss"] == [e["loss"] for e in losses]  # unrounded: the run's own floats
    assert measured["val_step"] == [e["step"] for e in losses if e.get("eval_loss") is not None]
    assert measured["val_loss"] == [e["eval_loss"] for e in losses if e.get("eval_loss") is not None]
    names = [trace.get("name", "") for trace in body["figure"]["data"]]
    assert any(name.startswith("Model fitted to your run: start") for name in names)
    assert "Early stop on your run: step 4" in names  # the stand-in's validation loss falls to the end


def test_latest_means_the_callers_newest_finished_run(learner, other_learner):
    nothing = other_learner.get("/simulations/loss-curve?run=latest", headers={"HX-Request": "true"})
    assert nothing.status_code == 200 and "You have no finished run yet" in nothing.text
    assert "measured" not in other_learner.get("/api/simulations/loss-curve?run=latest").json()["result"]
    _finished_sweep(learner, [4])
    assert "measured" in learner.get("/api/simulations/loss-curve?run=latest").json()["result"]


def test_another_owners_run_is_not_found_and_a_reference_on_the_wrong_simulation_is_named(learner, other_learner):
    sweep = _finished_sweep(learner, [2])
    run_id = sweep["runs"][0]["id"]
    assert other_learner.get(f"/api/simulations/loss-curve?run={run_id}").status_code == 404
    assert other_learner.get(f"/simulations/loss-curve?run={run_id}").status_code == 404
    wrong = learner.get(f"/api/simulations/data-balance?run={run_id}")
    assert wrong.status_code == 422 and "run" in wrong.json()["detail"]


def test_the_measured_chapter_page_works_without_javascript(learner):
    sweep = _finished_sweep(learner, [0, 64])
    page = learner.get(f"/simulations/compliance?sweep={sweep['id']}&examples=50").text
    assert f'<input type="hidden" name="sweep" value="{sweep["id"]}">' in page  # the slider form keeps it
    assert "Your runs against the model" in page and "64" in page
    assert "Your runs:" in page
    run_id = sweep["runs"][1]["id"]
    page = learner.get(f"/simulations/loss-curve?run={run_id}").text
    assert "Your run: validation loss, and the model fitted to it" in page and "R²" in page


def test_the_chapter_shows_the_latest_sweep_and_its_progress(learner):
    sweep = _finished_sweep(learner, [1, 3])
    page = learner.get("/chapters/prompting-has-limits").text
    assert 'id="lab-sweep-widget"' in page and f"/simulations/compliance?sweep={sweep['id']}" in page
    assert "2 of 2 runs finished" in page
    time.sleep(0)  # nothing left running for the next test


def test_memory_and_cost_take_the_runs_measured_peak_time_and_tokens(learner):
    sweep = _finished_sweep(learner, [6])
    run_id = sweep["runs"][0]["id"]
    vram = learner.get(f"/api/simulations/vram?run={run_id}").json()
    assert vram["result"]["measured"]["peak_memory_mb"] == 700.0  # the stand-in's metrics.json
    assert "Your run peaked at 700 MB" in learner.get(f"/simulations/vram?run={run_id}",
                                                      headers={"HX-Request": "true"}).text
    cost = learner.get(f"/api/simulations/break-even?run={run_id}&gpu_hour_usd=3.6").json()
    measured = cost["result"]["measured"]
    assert (measured["train_duration_s"], measured["tokens"]) == (1.5, 4000)
    assert cost["result"]["training_cost"] == 1.5 / 3600 * 3.6  # the measured time at the learner's price
    plain = learner.get("/api/simulations/break-even?gpu_hour_usd=3.6").json()
    assert plain["result"]["training_cost"] == 200.0 and "measured" not in plain["result"]


def test_chapter_5_compares_the_reference_runs_until_the_learner_has_their_own(learner):
    page = learner.get("/chapters/evaluation").text
    assert 'id="lab-compare-widget"' in page and page.count("the course's reference run") == 2


def test_chapter_5_shows_the_learners_own_run_of_a_recipe_once_it_has_finished(learner):
    from tests.app.lab_runs.conftest import wait_until

    run = learner.post("/api/labs/runs", json={"recipe": "legal-format-mixed", "base": "tiny"}).json()
    wait_until(lambda: learner.get(f"/api/labs/runs/{run['id']}").json()["status"] == "succeeded", timeout_s=60)
    page = learner.get("/chapters/evaluation").text
    assert page.count("the course's reference run") == 1 and f'href="/labs/runs/{run["id"]}"' in page
    assert "0% → <strong>25%</strong>" in page  # the stand-in's leak, from its metrics.json


def test_lora_rank_reads_the_real_delta_w_and_a_runs_adapter_with_numpy(learner, sweep_app):
    import numpy as np

    settings = sweep_app.state.settings
    folder = settings.data_dir / "delta_w" / "tiny"
    missing = learner.get("/api/simulations/lora-rank?source=real")
    if not folder.exists():
        assert missing.status_code == 409 and "course-lab base build" in missing.json()["detail"]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    np.save(folder / "delta_w.npy", (rng.standard_normal((32, 5)) @ rng.standard_normal((5, 32))).astype(np.float32))
    real = learner.get("/api/simulations/lora-rank?source=real&r=5").json()
    assert real["result"]["source"] == "real" and real["result"]["d"] == 32
    assert real["result"]["relative_error"] < 1e-5 and "measured" not in real["result"]
    assert learner.get("/api/simulations/lora-rank").json()["result"]["source"] == "synthetic"

    sweep = _finished_sweep(learner, [7])
    with_run = learner.get(f"/api/simulations/lora-rank?source=real&run={sweep['runs'][0]['id']}").json()
    assert with_run["result"]["measured"]["rank"] == 2 and with_run["result"]["measured"]["r"] == 4
    assert "update on the same layer has rank 2 (at most r = 4" in learner.get(
        f"/simulations/lora-rank?source=real&run={sweep['runs'][0]['id']}", headers={"HX-Request": "true"}).text
