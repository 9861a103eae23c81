"""The lab API and pages with real subprocesses (a quick stand-in job): launch, isolation between
owners, SSE relay with Last-Event-ID, uploads that are malformed or too big, artifacts."""

import json
from pathlib import Path

import pytest

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.app.lab_runs.conftest import stand_in_command, wait_until
from tests.clients import CourseClient

SAMPLE = Path(__file__).resolve().parents[3] / "labs" / "samples" / "legal-support-sample.jsonl"
GOOD = b"".join(SAMPLE.read_bytes().splitlines(keepends=True)[:6])
BROKEN = GOOD.replace(b"\n", b"\n{not json\n", 1)  # line 2 is not JSON


@pytest.fixture(scope="module")
def lab_app(tmp_path_factory):
    data = tmp_path_factory.mktemp("lab-data")
    (data / "models" / "tiny").mkdir(parents=True)
    (data / "models" / "tiny" / "config.json").write_text("{}")  # "built": the stand-in never loads it
    settings = Settings(data_dir=data, lab_max_upload_bytes=20_000, lab_max_active_runs_per_owner=2,
                        lab_bases="tiny,not-built-yet")
    migrate(settings.resolved_database_url)
    return create_app(settings, run_command=stand_in_command(steps=6, delay_s=0.15))


@pytest.fixture
def learner(lab_app):
    with CourseClient(lab_app) as client:
        yield client


@pytest.fixture
def other_learner(lab_app):
    with CourseClient(lab_app) as client:
        yield client


def _launch(client, **fields) -> dict:
    response = client.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _wait_status(client, run_id, status):
    return wait_until(lambda: client.get(f"/api/labs/runs/{run_id}").json()["status"] == status, timeout_s=30)


def _sse_events(client, run_id, last_event_id=None, stop_after=None) -> list[tuple[int, dict]]:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    received = []
    with client.stream("GET", f"/api/labs/runs/{run_id}/events", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                received.append((event_id, json.loads(line[6:])))
                if stop_after and len(received) >= stop_after:
                    break
    return received


def test_a_launched_run_trains_and_finishes_with_its_metrics(learner):
    run = _launch(learner, r=4, steps=6)
    assert run["status"] == "queued"
    _wait_status(learner, run["id"], "succeeded")
    body = learner.get(f"/api/labs/runs/{run['id']}").json()
    assert body["overrides"] == {"lora.r": 4, "steps": 6}
    assert body["compliance_after"] == 1.0 and body["metrics"]["steps"] == 6
    assert "run_dir" not in body


def test_sse_relays_every_event_exactly_once_across_a_reconnect(learner):
    run = _launch(learner)
    first = _sse_events(learner, run["id"], stop_after=3)  # the client drops the connection mid-run
    rest = _sse_events(learner, run["id"], last_event_id=first[-1][0])
    ids = [event_id for event_id, _ in first + rest]
    assert ids == list(range(1, len(ids) + 1)), "no gap and no repeat"
    assert rest[-1][1]["type"] == "done"
    assert [e["type"] for _, e in first + rest].count("loss") == 6


def test_owners_cannot_see_or_cancel_each_others_runs(learner, other_learner):
    run = _launch(learner)
    assert other_learner.get(f"/api/labs/runs/{run['id']}").status_code == 404
    assert other_learner.post(f"/api/labs/runs/{run['id']}/cancel").status_code == 404
    assert other_learner.get(f"/api/labs/runs/{run['id']}/events").status_code == 404
    assert other_learner.get(f"/api/labs/runs/{run['id']}/artifacts/metrics").status_code == 404
    assert other_learner.get(f"/labs/runs/{run['id']}").status_code == 404
    assert run["id"] not in json.dumps(other_learner.get("/api/labs/runs").json())
    assert learner.post(f"/api/labs/runs/{run['id']}/cancel").json()["status"] in ("queued", "running", "cancelled")
    wait_until(lambda: learner.get(f"/api/labs/runs/{run['id']}").json()["status"] in ("cancelled", "succeeded"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"recipe": "no-such-recipe"}, "recipe: 'no-such-recipe' is not a recipe"),
        ({"base": "gpt-5"}, "base: 'gpt-5' is not allowed here"),
        ({"base": "not-built-yet"}, "is not built on this server yet"),
        ({"r": 0}, "r: Input should be greater than or equal to 1"),
        ({"steps": 100_000}, "steps: at most 400"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_launch_gets_a_422_naming_the_field(learner, fields, message):
    response = learner.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny", **fields})
    assert response.status_code == 422 and message in response.json()["detail"]


def test_too_many_active_runs_are_refused_with_a_429(lab_app):
    with CourseClient(lab_app) as client:
        runs = [_launch(client, steps=6) for _ in range(2)]
        response = client.post("/api/labs/runs", json={"recipe": "legal-format", "base": "tiny"})
        assert response.status_code == 429 and "queued or running" in response.json()["detail"]
        for run in runs:
            client.post(f"/api/labs/runs/{run['id']}/cancel")


def _runs_dir_entries(lab_app) -> set[str]:
    root = lab_app.state.settings.data_dir
    return {p.name for p in (root / "runs").glob("*")} | {p.name for p in (root / "scratch").glob("*")}


def test_a_malformed_dataset_upload_is_refused_and_leaves_nothing_behind(learner, lab_app):
    before = _runs_dir_entries(lab_app)
    files = {"dataset": ("broken.jsonl", BROKEN, "application/jsonl")}
    response = learner.post("/api/labs/runs", data={"recipe": "legal-format", "base": "tiny"}, files=files)
    assert response.status_code == 422 and "line 2" in response.json()["detail"]
    assert _runs_dir_entries(lab_app) == before


def test_an_oversize_upload_is_refused_from_its_declared_size(learner, lab_app):
    before = _runs_dir_entries(lab_app)
    big = b'{"messages": []}\n' * 5_000  # ~85 kB against a 20 kB limit
    response = learner.post("/api/labs/data/check", files={"file": ("big.jsonl", big, "application/jsonl")})
    assert response.status_code == 413 and "limit is 20,000 bytes" in response.json()["detail"]
    assert _runs_dir_entries(lab_app) == before


def test_a_usable_dataset_upload_trains_on_the_uploaded_file(learner, lab_app):
    files = {"dataset": ("mine.jsonl", GOOD, "application/jsonl")}
    response = learner.post("/api/labs/runs", data={"recipe": "legal-format", "base": "tiny", "steps": "6"},
                            files=files)
    assert response.status_code == 201, response.text
    run = learner.get(f"/api/labs/runs/{response.json()['id']}").json()
    assert run["dataset"] == "mine.jsonl" and "dataset" not in run["overrides"]


def test_the_data_check_api_returns_the_engines_report_with_line_numbers(learner):
    duplicated = GOOD + GOOD.splitlines(keepends=True)[0]  # line 7 repeats line 1
    files = {"file": ("dup.jsonl", duplicated, "application/jsonl")}
    report = learner.post("/api/labs/data/check", files=files).json()
    assert report["usable"] is True and report["examples"] == 7
    assert {"line": 7, "rule": "exact_duplicate"}.items() <= report["issues"][0].items()


def test_the_data_lab_page_shows_duplicates_side_by_side_for_the_sample_set(learner):
    html = learner.post("/labs/data/check?sample=1", headers={"HX-Request": "true"}).text
    assert "exact duplicate" in html and 'class="side-by-side"' in html and "<html" not in html


def test_artifacts_are_served_to_their_owner_and_kinds_are_checked(learner):
    run = _launch(learner)
    _wait_status(learner, run["id"], "succeeded")
    metrics = learner.get(f"/api/labs/runs/{run['id']}/artifacts/metrics")
    assert metrics.status_code == 200 and metrics.json()["steps"] == 6
    assert "attachment" in metrics.headers["content-disposition"]
    events = learner.get(f"/api/labs/runs/{run['id']}/artifacts/events").text.splitlines()
    assert json.loads(events[-1])["type"] == "done"
    response = learner.get(f"/api/labs/runs/{run['id']}/artifacts/..%2F..%2Fcourse.db")
    assert response.status_code == 404


def test_the_run_page_and_my_runs_page_render(learner):
    run = _launch(learner)
    _wait_status(learner, run["id"], "succeeded")
    page = learner.get(f"/labs/runs/{run['id']}").text
    assert 'hx-sse:connect="/api/labs/runs/' in page and "Format compliance" in page
    runs_page = learner.get("/labs/runs").text
    assert run["id"][:8] in runs_page and "0% → 100%" in runs_page


def test_an_oversize_form_upload_without_javascript_is_refused_before_it_is_buffered(learner):
    # No CSRF header, as a plain HTML form posts: the token would be looked for in the body, so the
    # body's declared size is checked first.
    big = b'{"messages": []}\n' * 10_000  # ~170 kB against 20 kB + envelope
    response = learner.post(
        "/labs/data/check",
        data={"csrftoken": learner.cookies.get("csrftoken", "")},
        files={"file": ("big.jsonl", big, "application/jsonl")},
        headers={"x-csrftoken": ""},
    )
    assert response.status_code == 413 and "larger than this server accepts" in response.text
