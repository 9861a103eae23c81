"""COURSE_SERVING=ray from the web app's side: RayServeClient against the real Ray Serve deployment on a local Ray
head (one CPU, one replica) serving really trained adapters: whole and streamed answers routed by adapter, unload,
batches and health, the failures a person can act on (wrong secret, nothing listening, bad input), and chapter 6's
lab answering through Ray, where deleting a run unloads its adapter."""

import asyncio
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db import migrate
from app.main import create_app
from app.serving.model_server import Generation, ModelServerRejected, ModelServerUnavailable, get_model_client
from app.serving.ray_client import RayServeClient
from app.settings import Settings
from tests.app.serving.conftest import BASE, give_runs, learner_id
from tests.clients import CourseClient
from tests.ray_head import free_port
from tests.ray_serve import ray_serving

LEGAL = [{"role": "system", "content": "You are a legal document assistant. Always respond with numbered action "
                                       "items in formal British English."},
         {"role": "user", "content": "My employer has not paid my last invoice. What should I do?"}]


def _generation(run: dict | None = None, **fields) -> Generation:
    adapter = (run["name"], str(Path(run["run_dir"]) / "adapter")) if run else (None, None)
    return Generation(BASE, *adapter, LEGAL, fields.pop("max_tokens", 40), temperature=0.0, **fields)


@pytest.fixture(scope="module")
def ray_settings(serving_data_dir, tmp_path_factory):
    # Room for the base and every adapter these tests load: Serve's LRU evictions are the lab tests' subject.
    with ray_serving(tmp_path_factory.mktemp("ray"), serving_data_dir, max_adapters=8) as serving:
        yield Settings(data_dir=serving_data_dir, lab_bases=BASE, serving="ray", serve_address=serving.address,
                       serve_secret=serving.secret, serving_request_timeout_s=300)


def test_the_app_picks_the_ray_client_when_serving_is_ray(ray_settings):
    assert isinstance(get_model_client(create_app(ray_settings)), RayServeClient)


def test_serving_ray_without_its_secret_is_refused_at_start_with_a_how_to(tmp_path):
    with pytest.raises(ValueError, match="COURSE_SERVE_SECRET"):
        Settings(data_dir=tmp_path, serving="ray")


def test_adapters_are_served_whole_and_streamed_each_by_its_own_id(ray_settings, trained_runs):
    client = RayServeClient(ray_settings)

    async def scenario():
        first, second = trained_runs
        answers = [await client.generate(_generation(run)) for run in (None, first, second)]
        assert [a["batch"]["adapter"] for a in answers] == [None, first["name"], second["name"]]
        assert answers[0]["text"] != answers[1]["text"]
        events = [event async for event in client.stream(_generation(first))]
        assert [e["type"] for e in events[:-1]] == ["delta"] * (len(events) - 1) and events[-1]["type"] == "done"
        assert "".join(e["text"] for e in events[:-1]) == answers[1]["text"]
        batches = await client.batches(limit=10)
        assert {first["name"], second["name"]} <= {b["adapter"] for b in batches}
        return await client.health()

    health = asyncio.run(scenario())
    assert health["status"] == "ready" and health["bases"][BASE]["state"] == "ready"


def test_unload_drops_the_adapter_from_the_replica_that_holds_it(ray_settings, trained_runs):
    client = RayServeClient(ray_settings)

    async def scenario():
        run = trained_runs[0]
        await client.generate(_generation(run))
        assert run["name"] in (await client.health())["bases"][BASE]["adapters"]
        await client.unload(run["name"])
        assert run["name"] not in (await client.health())["bases"][BASE]["adapters"]
        await client.unload("never-loaded")  # nothing to drop is not an error

    asyncio.run(scenario())


def test_bad_input_is_rejected_with_the_servers_message(ray_settings):
    client = RayServeClient(ray_settings)
    with pytest.raises(ModelServerRejected, match="max_tokens"):
        asyncio.run(client.generate(_generation(max_tokens=100_000)))


def test_a_wrong_secret_is_a_503_that_tells_an_administrator_what_to_fix(ray_settings):
    client = RayServeClient(ray_settings.model_copy(update={"serve_secret": "not-the-deployments"}))
    with pytest.raises(ModelServerUnavailable, match="COURSE_SERVE_SECRET"):
        asyncio.run(client.generate(_generation()))

    async def stream():
        return [event async for event in client.stream(_generation())]

    with pytest.raises(ModelServerUnavailable, match="COURSE_SERVE_SECRET"):
        asyncio.run(stream())


def test_nothing_listening_is_a_503_and_reads_start_nothing(tmp_path):
    settings = Settings(data_dir=tmp_path, serving="ray", serve_address=f"http://127.0.0.1:{free_port()}",
                        serve_secret="s")
    client = RayServeClient(settings)
    with pytest.raises(ModelServerUnavailable, match="is the deployment running"):
        asyncio.run(client.generate(_generation()))
    assert asyncio.run(client.batches()) == []
    assert asyncio.run(client.health())["status"] == "unavailable"
    asyncio.run(client.unload("any"))  # logged, not raised: deleting a run never fails on it


def test_chapter_6s_lab_answers_through_ray_and_deleting_a_run_unloads_its_adapter_there(ray_settings, trained_runs):
    migrate(ray_settings.resolved_database_url)
    app = create_app(ray_settings)
    with TestClient(app):
        client = CourseClient(app)
        run_ids = give_runs(app, learner_id(client, app), trained_runs)
        names = [f"ft:{BASE}:legal-format:{run_id[:8]}" for run_id in run_ids]
        response = client.post("/labs/serving/compare", data={"prompt": LEGAL[1]["content"], "system": "",
                                                              "models": names})
        assert response.status_code == 200, response.text
        shown = re.findall(r'class="serving-answer" data-model="([^"]+)"', response.text)
        assert shown[0] == BASE and sorted(shown[1:]) == sorted(names)
        assert set(run_ids) <= set(asyncio.run(get_model_client(app).health())["bases"][BASE]["adapters"])

        assert client.delete(f"/api/labs/runs/{run_ids[0]}").status_code == 204
        held = asyncio.run(get_model_client(app).health())["bases"][BASE]["adapters"]
        assert run_ids[0] not in held and run_ids[1] in held

