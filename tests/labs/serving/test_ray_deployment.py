"""The Ray Serve deployment on a real local Ray head (127.0.0.1, token auth, one CPU, one replica) serving real
adapters trained on the micro base: whole and streamed answers, two adapters told apart by the multiplexed model
id, Serve's LRU unloading an adapter from the engine, /unload, and the same refusals as the local model server."""

import json

import httpx
import pytest

from labs.config import apply_overrides, load_recipe
from tests.labs.conftest import lab_environment
from tests.ray_serve import ray_serving

LEGAL = [{"role": "system", "content": "You are a legal document assistant. Always respond with numbered action "
                                       "items in formal British English."},
         {"role": "user", "content": "What should I do about a neighbour's tree that blocks my light?"}]
# A second adapter, different from the short run's: the mixed recipe, fewer steps.
SECOND_RUN = ["base=micro", "steps=30", "warmup_steps=4", "lr=1.0e-2", "eval.heldout=4", "eval.regression=2",
              "eval.side_by_side=1", "eval.max_new_tokens=40"]


@pytest.fixture(scope="module")
def second_run(micro_base, lab_data_dir, tmp_path_factory):
    from labs.train import run

    run_dir = tmp_path_factory.mktemp("run") / "mixed"
    with lab_environment(lab_data_dir):
        run(apply_overrides(load_recipe("legal-format-mixed"), SECOND_RUN), run_dir)
    return run_dir


@pytest.fixture(scope="module")
def served(micro_base, lab_data_dir, tmp_path_factory):
    with ray_serving(tmp_path_factory.mktemp("ray"), lab_data_dir, max_adapters=2) as serving:
        with httpx.Client(base_url=serving.address, timeout=300, trust_env=False,
                          headers={"Authorization": f"Bearer {serving.secret}"}) as client:
            yield client


@pytest.fixture(scope="module")
def adapters(short_run, second_run):
    """{"legal": (id, path), "mixed": (id, path)}"""
    return {"legal": ("run-legal", str(short_run[0] / "adapter")), "mixed": ("run-mixed", str(second_run / "adapter"))}


def _body(adapter=None, **extra):
    return {"base": "micro", "adapter": {"id": adapter[0], "path": adapter[1]} if adapter else None,
            "messages": LEGAL, "max_tokens": 60, "temperature": 0, **extra}


def _generate(client, adapter=None, **extra):
    response = client.post("/generate", json=_body(adapter, **extra),
                           headers={"serve_multiplexed_model_id": adapter[0] if adapter else "micro"})
    assert response.status_code == 200, response.text
    return response.json()


def _adapters_held(client) -> list[str]:
    return client.get("/health").json()["bases"]["micro"]["adapters"]


def test_a_trained_adapter_answers_through_ray_serve_differently_from_the_base(served, adapters):
    base = _generate(served)
    tuned = _generate(served, adapters["legal"])
    assert tuned["batch"]["adapter"] == "run-legal" and base["batch"]["adapter"] is None
    assert tuned["completion_tokens"] > 0 and tuned["text"] != base["text"]


def test_a_streamed_answer_arrives_as_ndjson_deltas_that_add_up_to_the_whole_answer(served, adapters):
    whole = _generate(served, adapters["legal"])
    with served.stream("POST", "/generate", json=_body(adapters["legal"], stream=True),
                       headers={"serve_multiplexed_model_id": "run-legal"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        events = [json.loads(line) for line in response.iter_lines() if line.strip()]
    deltas, done = events[:-1], events[-1]
    assert len(deltas) > 1 and all(e["type"] == "delta" for e in deltas)
    assert "".join(e["text"] for e in deltas) == whole["text"]
    assert done["type"] == "done" and done["completion_tokens"] == whole["completion_tokens"]
    assert done["batch"]["adapter"] == "run-legal"


def test_two_adapters_are_told_apart_by_the_multiplexed_id_and_serves_lru_unloads_the_oldest(served, adapters):
    legal = _generate(served, adapters["legal"])
    mixed = _generate(served, adapters["mixed"])
    assert (legal["batch"]["adapter"], mixed["batch"]["adapter"]) == ("run-legal", "run-mixed")
    assert legal["text"] != mixed["text"]
    assert _adapters_held(served) == ["run-legal", "run-mixed"]
    # Two model ids per replica: asking for the base alone (id "micro") makes Serve evict its least recently used
    # id, and the adapter leaves the engine with it.
    _generate(served)
    health = served.get("/health").json()
    assert health["bases"]["micro"]["adapters"] == ["run-mixed"]
    assert sorted(health["multiplexed"]) == ["micro", "run-mixed"]
    assert _generate(served, adapters["legal"])["text"] == legal["text"]  # loaded again, same answer


def test_unload_removes_an_adapter_which_loads_again_when_asked_for(served, adapters):
    first = _generate(served, adapters["mixed"])
    unloaded = served.post("/unload", json={"adapter_id": "run-mixed"},
                           headers={"serve_multiplexed_model_id": "run-mixed"})
    assert unloaded.json() == {"unloaded": True}
    assert "run-mixed" not in _adapters_held(served)
    assert served.post("/unload", json={"adapter_id": "run-mixed"}).json() == {"unloaded": False}
    assert _generate(served, adapters["mixed"])["text"] == first["text"]
    assert "run-mixed" in _adapters_held(served)


def test_the_latest_batches_name_their_adapter(served, adapters):
    _generate(served, adapters["legal"], request_id="look-for-me")
    batches = served.get("/batches", params={"limit": 5}).json()["batches"]
    mine = [b for b in batches if "look-for-me" in b["request_ids"]]
    assert mine and mine[0]["adapter"] == "run-legal" and mine[0]["base"] == "micro"


def test_requests_without_the_secret_or_with_bad_input_are_refused_with_a_message(served, adapters):
    anonymous = httpx.post(str(served.base_url).rstrip("/") + "/generate", json=_body(), trust_env=False, timeout=60)
    assert anonymous.status_code == 401 and "secret" in anonymous.json()["error"]
    assert served.get("/health", headers={"Authorization": "Bearer not-the-secret"}).status_code == 401
    wrong_route = served.post("/generate", json=_body(adapters["legal"]),
                              headers={"serve_multiplexed_model_id": "run-mixed"})
    assert wrong_route.status_code == 400 and "serve_multiplexed_model_id" in wrong_route.json()["error"]
    too_many = served.post("/generate", json=_body(max_tokens=10**6))
    assert too_many.status_code == 400 and "max_tokens" in too_many.json()["error"]
    no_adapter = served.post("/generate", json=_body(("run-missing", "/nonexistent/adapter")),
                             headers={"serve_multiplexed_model_id": "run-missing"})
    assert no_adapter.status_code == 400, no_adapter.text
    assert served.post("/generate", content=b"{not json").status_code == 400
    assert served.get("/batches", params={"limit": "all"}).status_code == 400
    assert served.post("/unload", json={}).status_code == 400
    assert served.get("/nowhere").status_code == 404


def test_serve_ray_refuses_to_deploy_without_an_address_or_a_secret(course_lab):
    no_secret = course_lab("serve-ray", "--address", "127.0.0.1:1", env_extra={"COURSE_SERVE_SECRET": ""})
    assert no_secret.returncode == 2 and "COURSE_SERVE_SECRET" in no_secret.stderr
    no_address = course_lab("serve-ray", env_extra={"COURSE_SERVE_SECRET": "s", "RAY_ADDRESS": ""})
    assert no_address.returncode == 2 and "--address" in no_address.stderr
