"""What a streamed /v1 completion holds (the key's request slot, the owner's stream slot, the model server's
stream) is given back however the client leaves, a client gone before the first byte included; and a /v1 stream
counts against the owner's cap on open streams, like the lab pages' event streams.

The ASGI app is driven directly, so a test decides exactly when the client goes. A stand-in takes the model
server's place (its first event at once, the rest when the test lets it go): what is under test is the slot
accounting of the web app, not a model's answer, which tests/app/serving/test_openai_chat.py covers.
"""

import asyncio
import json

import pytest
from starlette.requests import ClientDisconnect

from app.db import migrate
from app.main import create_app
from app.serving.overrides import set_serving_limit
from app.settings import Settings
from tests.clients import CourseClient

BASE = "stand-in/base"  # a base named with a slash counts as ready without files on disk


class StandInModelServer:
    """Streams like the model server's client: one delta at once, the end when `finish` is set."""

    def __init__(self):
        self.open_streams = 0
        self.finish: asyncio.Event | None = None

    async def stream(self, generation):
        self.open_streams += 1
        try:
            yield {"type": "delta", "text": "Hello"}
            await self.finish.wait()
            yield {"type": "done", "finish_reason": "stop", "prompt_tokens": 2, "completion_tokens": 1}
        finally:
            self.open_streams -= 1


@pytest.fixture
def v1_app(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'course.db'}", lab_bases=BASE,
                        max_event_streams_per_owner=2)
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    app.state.model_client = StandInModelServer()
    return app


@pytest.fixture
def owner(v1_app) -> CourseClient:
    with CourseClient(v1_app) as browser:
        browser.register()
        yield browser


def _new_key(owner: CourseClient) -> str:
    return owner.post("/api/keys", json={"name": "stream tests"}).json()["key"]


def _scope(key: str, spec_version: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": spec_version}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
            "query_string": b"", "root_path": "", "client": ("10.200.0.1", 50000), "server": ("testserver", 80),
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                        (b"authorization", f"Bearer {key}".encode())]}


BODY = json.dumps({"model": BASE, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
                   "stream": True}).encode()


async def _request(app, key: str, send, gone: asyncio.Event, spec_version: str = "2.3") -> None:
    """One streamed completion; `send` plays the client's socket, `gone` is set when the client hangs up.
    Under ASGI 2.4 the app learns of a hang-up only when a send fails; before it, by a disconnect message."""
    sent_body = False

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    try:
        await app(_scope(key, spec_version), receive, send)
    except ClientDisconnect:
        pass  # what Starlette raises when the client's socket is gone


async def _status_of_next_request(app, key: str) -> int:
    """The status a new streamed request gets (it is let finish at once)."""
    messages = []

    async def send(message):
        messages.append(message)

    app.state.model_client.finish.set()
    await _request(app, key, send, asyncio.Event())
    app.state.model_client.finish.clear()
    return next(m["status"] for m in messages if m["type"] == "http.response.start")


def test_a_client_gone_before_the_first_byte_gives_its_slots_back_at_once(v1_app, owner):
    set_serving_limit(v1_app.state.sessions, "serving_concurrent_requests", 1)
    key = _new_key(owner)

    async def scenario():
        v1_app.state.model_client.finish = asyncio.Event()

        async def reset(message):
            raise OSError("connection reset by peer")  # the client left while the model server was thinking

        await _request(v1_app, key, reset, asyncio.Event(), spec_version="2.4")
        assert v1_app.state.model_client.open_streams == 0, "the model server's stream was left open"
        assert await _status_of_next_request(v1_app, key) == 200, "the key's only request slot was never given back"

    asyncio.run(scenario())


def test_v1_streams_count_against_the_owners_cap_on_open_streams(v1_app, owner):
    keys = [_new_key(owner) for _ in range(3)]  # each key has its own request slots: the cap is per owner

    async def scenario():
        v1_app.state.model_client.finish = asyncio.Event()
        gone = asyncio.Event()

        async def listen(message):
            pass

        holding = [asyncio.create_task(_request(v1_app, key, listen, gone)) for key in keys[:2]]
        while v1_app.state.model_client.open_streams < 2:
            await asyncio.sleep(0.01)
        refused = []

        async def record(message):
            refused.append(message)

        third = asyncio.create_task(_request(v1_app, keys[2], record, gone))
        await asyncio.wait({third}, timeout=10)  # a refusal comes at once; an admitted stream would wait here
        gone.set()  # every client hangs up: their streams end and the owner may open another
        await asyncio.gather(third, *holding)
        assert refused[0]["status"] == 429, "a third stream of the owner was admitted past the cap of 2"
        error = json.loads(b"".join(m.get("body", b"") for m in refused[1:]))["error"]
        assert error["code"] == "rate_limit_exceeded" and "max_event_streams_per_owner" in error["message"]
        assert v1_app.state.model_client.open_streams == 0
        assert await _status_of_next_request(v1_app, keys[2]) == 200

    asyncio.run(scenario())
