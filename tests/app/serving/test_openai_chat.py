"""/v1 end to end with the official `openai` client: a real server, the real model server and a really trained
adapter on the `micro` base. Models listed per owner (another owner's adapter is a 404), chat completions whole and
streamed (`[DONE]`, usage), the adapter's answers in the recipe's format where the base's are not, served names,
503 with Retry-After while the model server starts, and the per-key limits answering 429 with Retry-After."""

import time

import httpx
import openai
import pytest

from app.accounts import owned_learners
from app.db import migrate
from app.lab_runs.store import get_run
from app.main import create_app
from app.serving.overrides import reset_serving_limit, set_serving_limit
from app.settings import Settings
from labs import corpus
from labs.evaluate import leaks_format, numbered_items
from tests.app.serving.conftest import BASE, give_runs
from tests.clients import CourseClient
from tests.live_server import live_server

LEGAL = [{"role": "system", "content": corpus.LEGAL_SYSTEM},
         {"role": "user", "content": "My landlord is keeping my deposit. What should I do?"}]
WAIT_FOR_MODEL_S = 600  # starting the model server and loading micro on two busy cores


@pytest.fixture(scope="module")
def v1_url(serving_app):
    with live_server(serving_app) as url:
        yield url + "/v1"


class Owner:
    """An account with a copy of a trained legal-format run, and an API key."""

    def __init__(self, app, trained_run: dict, v1: str):
        self.browser = CourseClient(app)
        self.browser.register()
        [self.run_id] = give_runs(app, owned_learners(app.state.sessions, self.browser.user["id"])[0], [trained_run])
        self.model = f"ft:{BASE}:legal-format:{self.run_id[:8]}"
        self.key = self.new_key()
        self.client = openai.OpenAI(base_url=v1, api_key=self.key, max_retries=0, timeout=300)

    def new_key(self) -> str:
        return self.browser.post("/api/keys", json={"name": "tests"}).json()["key"]


@pytest.fixture(scope="module")
def alice(serving_app, trained_runs, v1_url):
    return Owner(serving_app, trained_runs[0], v1_url)


@pytest.fixture(scope="module")
def bob(serving_app, trained_runs, v1_url):
    return Owner(serving_app, trained_runs[1], v1_url)


def until_served(call, seen_503: list | None = None):
    """`call()`, retried through 503s while the model server starts or loads a base, as Retry-After asks."""
    deadline = time.monotonic() + WAIT_FOR_MODEL_S
    while True:
        try:
            return call()
        except openai.APIStatusError as error:
            if error.status_code != 503 or time.monotonic() > deadline:
                raise
            retry_after = int(error.response.headers["Retry-After"])
            assert retry_after >= 1 and error.code == "model_unavailable" and error.type == "server_error"
            if seen_503 is not None:
                seen_503.append(error.message)
            time.sleep(min(retry_after, 2))


def test_a_key_lists_the_bases_and_only_its_owners_adapters(alice, bob):
    ids = {model.id for model in alice.client.models.list().data}
    assert ids == {BASE, alice.model}
    listed = {model.id: model for model in alice.client.models.list().data}
    assert listed[alice.model].owned_by == "learner" and listed[alice.model].object == "model"
    assert listed[alice.model].created > 1_700_000_000 and listed[BASE].owned_by == "course"
    assert alice.client.models.retrieve(alice.model).id == alice.model
    with pytest.raises(openai.NotFoundError) as caught:
        alice.client.models.retrieve(bob.model)
    assert caught.value.code == "model_not_found"


def test_while_the_model_server_starts_v1_answers_503_with_retry_after_then_the_answer(serving_settings, tmp_path):
    """On an app of its own, so its model server has surely not started yet."""
    settings = Settings(**{**serving_settings.model_dump(), "database_url": f"sqlite:///{tmp_path / 'own.db'}"})
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    browser = CourseClient(app)
    key = browser.post("/api/keys", json={"name": "first"}).json()["key"]
    try:
        with live_server(app) as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=300)
            with pytest.raises(openai.InternalServerError) as caught:
                client.chat.completions.create(model=BASE, messages=LEGAL, max_tokens=4)
            assert caught.value.status_code == 503 and caught.value.code == "model_unavailable"
            assert "starting" in caught.value.message and int(caught.value.response.headers["Retry-After"]) >= 1
            seen = []
            answer = until_served(lambda: client.chat.completions.create(
                model=BASE, messages=LEGAL, max_tokens=8, temperature=0), seen)
            assert answer.object == "chat.completion" and answer.model == BASE
            assert all("starting" in message or "loading" in message for message in seen)
    finally:
        app.state.model_client._stop()


def test_another_owners_adapter_is_a_404_never_a_403(alice, bob):
    with pytest.raises(openai.NotFoundError) as caught:
        until_served(lambda: alice.client.chat.completions.create(model=bob.model, messages=LEGAL, max_tokens=4))
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    assert bob.model in {model.id for model in bob.client.models.list().data}


def test_a_chat_completion_has_openais_shape_and_usage(alice):
    answer = until_served(lambda: alice.client.chat.completions.create(
        model=alice.model, messages=LEGAL, max_tokens=48, temperature=0, seed=3, presence_penalty=0.2))
    assert answer.id.startswith("chatcmpl-") and answer.model == alice.model and len(answer.choices) == 1
    choice = answer.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    usage = answer.usage
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 48
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    short = alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=3, temperature=0)
    assert short.usage.completion_tokens <= 3 and short.choices[0].finish_reason == "length"


def test_the_adapter_answers_in_the_recipes_format_where_the_base_does_not(alice):
    prompts = [example["messages"][:2] for example in corpus.legal_format_heldout(4, seed=7)]

    def answers(model: str) -> list[str]:
        return [until_served(lambda: alice.client.chat.completions.create(
            model=model, messages=messages, max_tokens=120, temperature=0)).choices[0].message.content
            for messages in prompts]

    tuned, base = answers(alice.model), answers(BASE)
    # The recipe's format: numbered action items and the disclaimer footer (labs.evaluate's checks).
    assert all(map(leaks_format, tuned)) and sum(map(numbered_items, tuned)) >= 2, tuned
    assert not any(map(leaks_format, base)), base


def test_a_streamed_completion_sends_the_role_then_deltas_then_the_finish_then_usage(alice):
    stream = until_served(lambda: alice.client.chat.completions.create(
        model=alice.model, messages=LEGAL, max_tokens=24, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" and chunk.model == alice.model for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert len(finishes) == 1 and finishes[0].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(chunk.usage is None for chunk in chunks[:-1])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text and 0 < chunks[-1].usage.completion_tokens <= 24
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens


def test_the_raw_stream_is_server_sent_events_ending_with_done(alice, v1_url):
    body = {"model": alice.model, "messages": LEGAL, "max_tokens": 6, "stream": True}
    with httpx.stream("POST", v1_url + "/chat/completions", json=body, timeout=300,
                      headers={"Authorization": f"Bearer {alice.key}"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    assert '"usage"' not in "".join(lines)  # not asked for


def test_a_run_is_callable_by_the_name_its_learner_gives_it(alice, bob):
    renamed = alice.browser.patch(f"/api/labs/runs/{alice.run_id}", json={"served_name": "legal-v2"})
    assert renamed.status_code == 200 and renamed.json()["served_name"] == "legal-v2"
    assert {"legal-v2", alice.model} <= {model.id for model in alice.client.models.list().data}
    answer = until_served(lambda: alice.client.chat.completions.create(model="legal-v2", messages=LEGAL, max_tokens=4))
    assert answer.model == alice.model
    with pytest.raises(openai.NotFoundError):
        bob.client.chat.completions.create(model="legal-v2", messages=LEGAL, max_tokens=4)
    for bad, status in (("has space", 422), (BASE, 422), ("ft:x", 422)):
        assert alice.browser.patch(f"/api/labs/runs/{alice.run_id}", json={"served_name": bad}).status_code == status
    assert bob.browser.patch(f"/api/labs/runs/{alice.run_id}", json={"served_name": "mine"}).status_code == 404


@pytest.fixture
def limit(serving_app):
    """Set serving limits as an admin would for one test, and put them back after it."""
    changed = []

    def set_limit(name: str, value: int) -> None:
        set_serving_limit(serving_app.state.sessions, name, value)
        changed.append(name)

    yield set_limit
    for name in changed:
        reset_serving_limit(serving_app.state.sessions, name)


def test_past_its_tokens_per_minute_a_key_gets_429_with_retry_after(alice, limit):
    until_served(lambda: alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=2))
    key = alice.new_key()
    client = openai.OpenAI(base_url=str(alice.client.base_url), api_key=key, max_retries=0, timeout=300)
    limit("serving_tokens_per_minute", 100)
    client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=60)  # 60 + the prompt's ~30
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=60)
    assert caught.value.code == "rate_limit_exceeded" and caught.value.type == "tokens"
    assert 1 <= int(caught.value.response.headers["Retry-After"]) <= 60
    assert "serving_tokens_per_minute" in caught.value.message
    with pytest.raises(openai.BadRequestError) as too_big:  # a request no wait would let through
        client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=200)
    assert too_big.value.param == "max_tokens"
    # Another key of the same owner has its own budget.
    other = openai.OpenAI(base_url=str(alice.client.base_url), api_key=alice.new_key(), max_retries=0, timeout=300)
    assert other.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=60).usage


def test_past_its_concurrent_requests_a_key_gets_429_until_a_request_ends(alice, limit):
    until_served(lambda: alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=2))
    limit("serving_concurrent_requests", 1)
    stream = alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=200, stream=True)
    next(iter(stream))  # the stream holds the key's only slot while it is open
    with pytest.raises(openai.RateLimitError) as caught:
        alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=2)
    assert caught.value.type == "requests" and caught.value.response.headers["Retry-After"] == "1"
    stream.close()  # hanging up ends the request and frees the slot
    deadline = time.monotonic() + 30
    while True:
        try:
            assert alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=2).choices
            break
        except openai.RateLimitError:
            assert time.monotonic() < deadline, "the slot of a closed stream was never given back"
            time.sleep(0.2)


def test_a_keys_last_use_and_the_runs_last_serving_are_recorded(alice, serving_app):
    until_served(lambda: alice.client.chat.completions.create(model=alice.model, messages=LEGAL, max_tokens=2))
    listed = {key["prefix"]: key for key in alice.browser.get("/api/keys").json()}
    assert listed[alice.key[:12]]["last_used_at"] is not None
    assert get_run(serving_app.state.sessions, alice.run_id, owners=None).last_served_at is not None
