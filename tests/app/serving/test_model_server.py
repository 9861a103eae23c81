"""The web process's model-server client against the real model server (`python -m labs serve-models`) with really
trained adapters: started on first use, 503 while it starts and while a base loads, restarted after being killed,
stopped with the app, the secret kept out of the command line, adapters unloaded on request."""

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.serving.model_server import Generation, ModelServerClient, ModelServerUnavailable
from tests.app.serving.conftest import BASE

LEGAL = [{"role": "system", "content": "You are a legal document assistant. Always respond with numbered action "
                                       "items in formal British English."},
         {"role": "user", "content": "My landlord is keeping my deposit. What should I do?"}]


def _generation(run: dict | None = None, **fields) -> Generation:
    adapter = (run["name"], str(Path(run["run_dir"]) / "adapter")) if run else (None, None)
    return Generation(BASE, *adapter, LEGAL, fields.pop("max_tokens", 40), temperature=0.0, **fields)


async def _until_answered(client: ModelServerClient, generation: Generation, timeout_s: float = 300) -> tuple[dict, list[str]]:
    """Retry through the 503s, as a client honouring Retry-After would; (the answer, the 503 messages seen)."""
    refusals, deadline = [], time.monotonic() + timeout_s
    while True:
        try:
            return await client.generate(generation), refusals
        except ModelServerUnavailable as exc:
            refusals.append(exc.message)
            assert time.monotonic() < deadline, f"no answer within {timeout_s} s: {refusals[-3:]}"
            await asyncio.sleep(0.3)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def fresh_client(serving_settings):
    client = ModelServerClient(serving_settings)
    yield client
    client._stop()


def test_the_server_starts_on_first_use_and_answers_503_until_it_listens_and_its_base_is_loaded(fresh_client):
    async def scenario():
        assert (await fresh_client.health())["status"] == "stopped"
        assert fresh_client.pid is None  # creating the client starts nothing
        with pytest.raises(ModelServerUnavailable, match="starting") as starting:
            await fresh_client.generate(_generation())
        assert starting.value.retry_after_s > 0
        assert fresh_client.pid is not None
        await fresh_client.wait_until_ready()
        # Listening, but the base was never asked for: the first request asks the server to load it and gets a 503.
        with pytest.raises(ModelServerUnavailable, match=f"{BASE}.*loading"):
            await fresh_client.generate(_generation())
        answer, refusals = await _until_answered(fresh_client, _generation())
        assert all("loading" in message or "starting" in message for message in refusals)
        assert answer["completion_tokens"] > 0 and isinstance(answer["text"], str)
        assert answer["batch"]["adapter"] is None
        health = await fresh_client.health()
        assert health["bases"][BASE]["state"] == "ready" and fresh_client.starts == 1

    asyncio.run(scenario())


def test_the_secret_travels_in_the_environment_and_never_on_the_command_line(fresh_client, serving_settings):
    asyncio.run(fresh_client.wait_until_ready())
    pid = fresh_client.pid
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    environ = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item)
    secret = environ[b"COURSE_MODEL_SERVER_SECRET"]
    assert len(secret) >= 32 and not any(secret in arg for arg in argv)
    assert b"serve-models" in argv and b"--max-adapters" in argv and str(serving_settings.model_server_max_adapters).encode() in argv
    assert b"COURSE_SECRET_KEY" not in environ and b"COURSE_DATABASE_URL" not in environ  # the allow-list held


def test_a_killed_server_is_restarted_with_a_new_secret_on_the_next_request(fresh_client):
    async def scenario():
        await _until_answered(fresh_client, _generation())
        first_pid, first_secret = fresh_client.pid, fresh_client._secret
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while fresh_client._process.poll() is None:  # the kill lands in a moment
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        with pytest.raises(ModelServerUnavailable, match="stopped.*restarting"):
            await fresh_client.generate(_generation())
        answer, _ = await _until_answered(fresh_client, _generation())
        assert answer["completion_tokens"] > 0
        assert fresh_client.starts == 2 and fresh_client.pid not in (None, first_pid)
        assert fresh_client._secret != first_secret

    asyncio.run(scenario())


def test_a_request_to_a_server_that_died_mid_connection_is_a_503_not_a_crash(fresh_client):
    async def scenario():
        await _until_answered(fresh_client, _generation())
        os.kill(fresh_client.pid, signal.SIGKILL)
        with pytest.raises(ModelServerUnavailable):  # a refused connection or a reaped process: both say 503
            await fresh_client.generate(_generation())

    asyncio.run(scenario())


def test_the_app_stops_the_server_at_shutdown_and_with_server_starts_it_at_startup(serving_app, serving_settings):
    settings = serving_settings.model_copy(update={"model_server_start": "with_server"})
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        pid = app.state.model_client.pid
        assert pid is not None  # started with the app, before any request needed it
    assert app.state.model_client.pid is None and _gone(pid)


def test_an_adapter_is_served_batched_streamed_and_unloaded(fresh_client, trained_runs):
    run = trained_runs[0]

    async def scenario():
        await fresh_client.wait_until_ready()
        answer, _ = await _until_answered(fresh_client, _generation(run, max_tokens=60))
        assert answer["batch"]["adapter"] == run["name"]
        assert run["name"] in (await fresh_client.health())["bases"][BASE]["adapters"]

        events = [event async for event in fresh_client.stream(_generation(run, max_tokens=60))]
        assert events[-1]["type"] == "done" and all(e["type"] == "delta" for e in events[:-1])
        assert "".join(e["text"] for e in events[:-1]) == answer["text"]  # greedy: the same answer either way
        assert events[-1]["completion_tokens"] == answer["completion_tokens"]

        batches = await fresh_client.batches(limit=5)
        assert batches and batches[0]["adapter"] == run["name"] and batches == sorted(batches, key=lambda b: -b["id"])

        await fresh_client.unload(run["name"])
        assert run["name"] not in (await fresh_client.health())["bases"][BASE]["adapters"]

    asyncio.run(scenario())


def test_unload_and_batches_start_nothing_when_no_server_runs(fresh_client):
    async def scenario():
        await fresh_client.unload("anything")
        assert await fresh_client.batches() == []

    asyncio.run(scenario())
    assert fresh_client.pid is None and fresh_client.starts == 0
