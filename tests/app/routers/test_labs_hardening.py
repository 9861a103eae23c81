"""The lab endpoints under hostile or careless clients: a data check never holds up other requests,
bad stream positions and deep JSON get a 4xx, a cut-off upload is refused, finished streams close,
streams and anonymous launches are bounded, and no event shows a path on the server."""

import asyncio

import httpx
import pytest

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.app.lab_runs.conftest import stand_in_command, wait_until
from tests.app.routers.test_labs import GOOD, _launch, _sse_events, _wait_status, lab_app, learner  # noqa: F401
from tests.clients import CourseClient, _next_address
from tests.live_server import live_server


def test_a_running_data_check_does_not_hold_up_other_requests(lab_app):
    """Before: the check's blocking subprocess.run froze the event loop, so /healthz answered after it."""

    async def scenario() -> list[str]:
        transport = httpx.ASGITransport(app=lab_app, client=(_next_address(), 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            await client.get("/healthz")
            headers = {"x-csrftoken": client.cookies["csrftoken"], "HX-Request": "true"}
            finished = []

            async def check():
                response = await client.post("/labs/data/check?sample=1", headers=headers)
                assert response.status_code == 200, response.text
                finished.append("check")

            async def health():
                await asyncio.sleep(0.2)  # the check's subprocess is running by now
                assert (await client.get("/healthz")).status_code == 200
                finished.append("health")

            await asyncio.gather(check(), health())
            return finished

    assert asyncio.run(scenario()) == ["health", "check"]


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "-1", "1.5"])
def test_a_bad_last_event_id_gets_a_422_not_a_500(learner, value):
    run = _launch(learner)
    response = learner.get(f"/api/labs/runs/{run['id']}/events", headers={"Last-Event-ID": value.encode()})
    assert response.status_code == 422 and "Last-Event-ID" in response.json()["detail"]
    assert len(response.json()["detail"]) < 300
    assert learner.get(f"/api/labs/runs/{run['id']}/events", params={"after": value}).status_code == 422


def test_a_launch_body_nested_thousands_deep_gets_a_422(learner):
    body = '{"recipe": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = learner.post("/api/labs/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "nested too deeply" in response.json()["detail"]


def _multipart(fields: dict[str, str], filename: str, content: bytes, boundary: str = "b0undary") -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="dataset"; filename="{filename}"\r\n'
                 f"Content-Type: application/jsonl\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def test_a_cut_off_multipart_upload_is_refused_and_starts_no_run(learner):
    whole = _multipart({"recipe": "legal-format", "base": "tiny"}, "mine.jsonl", GOOD)
    headers = {"content-type": "multipart/form-data; boundary=b0undary"}
    before = len(learner.get("/api/labs/runs").json())
    response = learner.post("/api/labs/runs", content=whole[: len(whole) - 40], headers=headers)
    assert response.status_code == 400 and "cut off" in response.json()["detail"]
    assert len(learner.get("/api/labs/runs").json()) == before
    assert learner.post("/api/labs/runs", content=whole, headers=headers).status_code == 201


def test_a_stream_resumed_at_or_past_its_last_event_closes_at_once(learner):
    run = _launch(learner, steps=3)
    _wait_status(learner, run["id"], "succeeded")
    events = _sse_events(learner, run["id"])
    last = events[-1][0]
    for resume_at in (last, last + 1000):
        assert _sse_events(learner, run["id"], last_event_id=resume_at) == []  # returns: the stream ended


def test_the_done_event_and_the_events_download_name_files_inside_the_run_not_server_paths(learner, lab_app):
    run = _launch(learner, steps=3)
    _wait_status(learner, run["id"], "succeeded")
    done = _sse_events(learner, run["id"])[-1][1]
    assert done["type"] == "done" and done["metrics"] == "metrics.json"
    server_path = str(lab_app.state.settings.data_dir.resolve())
    assert server_path not in learner.get(f"/labs/runs/{run['id']}").text
    download = learner.get(f"/api/labs/runs/{run['id']}/artifacts/events")
    assert download.status_code == 200 and '"type": "done"' in download.text and server_path not in download.text


@pytest.fixture
def strict_lab_app(tmp_path):
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")
    settings = Settings(data_dir=tmp_path, lab_anonymous_launches_per_ip="2/hour", lab_max_queued_anonymous_runs=3,
                        lab_max_active_runs_per_owner=5, max_event_streams_per_owner=2, lab_checks_per_ip="2/minute")
    migrate(settings.resolved_database_url)
    # Slow stand-in jobs that are never started (no lifespan): runs stay queued, as in a flood.
    return create_app(settings, run_command=stand_in_command(steps=1, delay_s=0.01))


def _anonymous_launch(client):
    return client.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny"})


def test_one_address_dropping_its_cookies_cannot_flood_the_lab_queue(strict_lab_app):
    address = _next_address()
    statuses = []
    for _ in range(3):
        fresh_cookies = CourseClient(strict_lab_app, client=(address, 1))
        statuses.append(_anonymous_launch(fresh_cookies).status_code)
    assert statuses == [201, 201, 429]


def test_anonymous_runs_are_capped_server_wide_but_accounts_still_launch(strict_lab_app):
    clients = [CourseClient(strict_lab_app) for _ in range(4)]
    statuses = [_anonymous_launch(client).status_code for client in clients]
    assert statuses == [201, 201, 201, 429]
    assert "queue is full" in _anonymous_launch(CourseClient(strict_lab_app)).json()["detail"]
    member = CourseClient(strict_lab_app)
    member.register()
    assert _anonymous_launch(member).status_code == 201


def test_a_server_can_require_an_account_for_labs(tmp_path):
    settings = Settings(data_dir=tmp_path, lab_require_account=True)
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    response = _anonymous_launch(CourseClient(app))
    assert response.status_code == 401 and "account" in response.json()["detail"]


def test_anonymous_data_checks_are_limited_per_address(strict_lab_app):
    client = CourseClient(strict_lab_app)
    files = {"file": ("mine.jsonl", GOOD, "application/jsonl")}
    statuses = [client.post("/api/labs/data/check", files=files).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_open_event_streams_are_capped_per_owner(strict_lab_app):
    with live_server(strict_lab_app) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.get("/healthz")
        launched = client.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny"},
                               headers={"x-csrftoken": client.cookies["csrftoken"]})
        events = f"/api/labs/runs/{launched.json()['id']}/events"  # queued for ever: streams stay open
        with client.stream("GET", events) as first, client.stream("GET", events) as second:
            third = client.get(events)
            statuses = [first.status_code, second.status_code, third.status_code]
        statuses.append(wait_until(lambda: _opens(client, events), timeout_s=10))  # closed ones give back their place
    assert statuses == [200, 200, 429, 200]
    assert third.json()["detail"].startswith("You have 2 event streams open")


def _opens(client, url) -> int | None:
    with client.stream("GET", url) as response:
        return response.status_code if response.status_code == 200 else None


def test_a_data_check_stops_waiting_in_line_with_a_503_when_the_server_is_busy(lab_app, monkeypatch):
    from app.lab_runs import service

    monkeypatch.setattr(service, "CHECK_QUEUE_WAIT_S", 0.05)

    async def scenario() -> list[int]:
        slots = service._check_slots(lab_app.state.settings)
        for _ in range(lab_app.state.settings.lab_max_concurrent_checks):
            await slots.acquire()  # every slot taken, as by long checks
        try:
            transport = httpx.ASGITransport(app=lab_app, client=(_next_address(), 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                await client.get("/healthz")
                response = await client.post("/api/labs/data/check", files={"file": ("a.jsonl", GOOD)},
                                             headers={"x-csrftoken": client.cookies["csrftoken"]})
                return [response.status_code, int(response.headers.get("retry-after", 0))]
        finally:
            for _ in range(lab_app.state.settings.lab_max_concurrent_checks):
                slots.release()

    assert asyncio.run(scenario()) == [503, 30]



def test_a_stream_whose_response_never_started_stops_counting_once_dropped(tmp_path):
    import gc

    from app.lab_runs.events import StreamLimiter, stream_events

    limiter = StreamLimiter(per_owner=1)
    abandoned = stream_events(tmp_path, 0)
    assert limiter.try_open("owner", abandoned)
    assert not limiter.try_open("owner", stream_events(tmp_path, 0))
    del abandoned  # the client left before the response began: its `finally` never runs
    gc.collect()
    assert limiter.try_open("owner", stream_events(tmp_path, 0))
