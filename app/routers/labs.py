"""Lab runs over HTTP: the JSON API (launch, list, cancel, events as SSE, artifacts, data checks)
and the pages around it (run view, my runs, evaluation view, data report)."""

import json

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from slowapi.util import get_remote_address
from starlette.concurrency import run_in_threadpool

from app.authz import owned_run
from app.deps import SessionsDep, SettingsDep
from app.errors import AppError, describe_validation_errors
from app.forms import read_json_object
from app.lab_runs import service, store
from app.lab_runs.events import parse_event_number, public_event, read_events, stream_events
from app.lab_runs.models import Run
from app.lab_runs.scheduler import settle_if_done
from app.lab_runs.views import evaluation_context, run_public
from app.identity import CurrentVisitor, OptionalUser
from app.rate_limits import enforce
from app.serving.model_server import get_model_client

router = APIRouter(tags=["labs"])


def _owned_run(sessions, run_id: str, visitor) -> Run:
    """The run if it belongs to this visitor (any of their account's learners); otherwise a 404."""
    return settle_if_done(sessions, owned_run(sessions, run_id, visitor.learner_ids))


def _parse_run_create(fields: dict) -> service.RunCreate:
    # Empty form fields mean "the recipe's value"; the CSRF field was checked by the middleware.
    cleaned = {k: v for k, v in fields.items() if v not in (None, "") and k != "csrftoken"}
    try:
        return service.RunCreate.model_validate(cleaned)
    except ValidationError as exc:
        raise AppError(422, describe_validation_errors(exc.errors())) from exc


async def _multipart_form(request: Request, settings):
    """The multipart form, refused before reading past the size limit and refused whole (400) when the
    body was cut off before its closing boundary, instead of silently dropping the unfinished file."""
    service.enforce_upload_size(request.headers.get("content-length"), settings)
    boundary = request.headers.get("content-type", "").partition("boundary=")[2].split(";")[0].strip().strip('"')
    body = await request.body()
    if not boundary or not body.rstrip(b"\r\n").endswith(b"--" + boundary.encode("latin-1") + b"--"):
        raise AppError(400, "The upload was cut off before its end; send the file again.")
    return await request.form()


async def _launch_from_request(request: Request, settings, sessions, visitor) -> Run:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await _multipart_form(request, settings)
        upload = form.get("dataset")
        fields = {k: v for k, v in form.items() if k != "dataset"}
        upload = upload if getattr(upload, "filename", None) else None
    elif content_type.startswith("application/x-www-form-urlencoded"):
        fields, upload = dict(await request.form()), None
    else:
        fields, upload = await read_json_object(request, 'send JSON like {"recipe": "legal-format", "base": "tiny"}'), None
    create = _parse_run_create(fields)
    anonymous = visitor.user is None
    if anonymous:  # in a thread: with a shared store (Redis) counting is a network round trip
        await run_in_threadpool(enforce, request, "lab-launch:ip", settings.lab_anonymous_launches_per_ip,
                                get_remote_address(request))
    return await service.launch(create, settings, sessions, visitor.learner_id, set(visitor.learner_ids), upload,
                                anonymous=anonymous)


# -- JSON API --------------------------------------------------------------------------------------
async def _uploaded_file(request: Request, settings) -> UploadFile | None:
    """The multipart `file` field, read only after the declared size passed the limit."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise AppError(422, "file: send the file as multipart/form-data in a field named 'file'.")
    upload = (await _multipart_form(request, settings)).get("file")
    return upload if getattr(upload, "filename", None) else None


async def _limit_anonymous_checks(request: Request, settings, user) -> None:
    """A check costs a subprocess: visitors without an account get a per-address budget."""
    if user is None:
        await run_in_threadpool(enforce, request, "lab-check:ip", settings.lab_checks_per_ip,
                                get_remote_address(request))


@router.post("/api/labs/data/check")
async def create_data_check(request: Request, settings: SettingsDep, user: OptionalUser) -> dict:
    """Run the engine's checks on an uploaded chat-JSONL file (multipart field `file`) and return its report."""
    await _limit_anonymous_checks(request, settings, user)
    upload = await _uploaded_file(request, settings)
    if upload is None:
        raise AppError(422, "file: choose a chat JSONL file to check.")
    report = await service.check_upload(upload, settings)
    report.pop("lines_text", None)
    return report


@router.post("/api/labs/runs", status_code=201)
async def create_run(request: Request, settings: SettingsDep, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """Queue a run from a recipe, a base and a few overrides (JSON or a multipart form with a dataset)."""
    run = await _launch_from_request(request, settings, sessions, visitor)
    return {"id": run.id, "status": run.status}


@router.get("/api/labs/runs")
def read_runs(sessions: SessionsDep, visitor: CurrentVisitor) -> list[dict]:
    """Your runs, newest first."""
    return [run_public(run) for run in store.list_runs(sessions, set(visitor.learner_ids))]


@router.get("/api/labs/runs/{run_id}")
def read_run(run_id: str, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """One of your runs, with its metrics when finished."""
    return run_public(_owned_run(sessions, run_id, visitor), with_metrics=True)


@router.post("/api/labs/runs/{run_id}/cancel")
def cancel_run(run_id: str, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """Cancel a queued or running run of yours."""
    run = _owned_run(sessions, run_id, visitor)
    return {"id": run.id, "status": store.request_cancel(sessions, run.id)}


@router.delete("/api/labs/runs/{run_id}", status_code=204)
async def delete_run(run_id: str, request: Request, settings: SettingsDep, sessions: SessionsDep,
                     visitor: CurrentVisitor) -> Response:
    """Delete a finished run of yours: its adapter stops being served, its files are removed."""
    run = await run_in_threadpool(_owned_run, sessions, run_id, visitor)
    await service.delete_run(run, settings, sessions, get_model_client(request.app))
    return Response(status_code=204)


@router.get("/api/labs/runs/{run_id}/events")
async def read_run_events(run_id: str, request: Request, sessions: SessionsDep, visitor: CurrentVisitor):
    """The run's events as Server-Sent Events, from `Last-Event-ID` (or `?after=`) on."""
    run = await run_in_threadpool(_owned_run, sessions, run_id, visitor)
    after_text = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        after = parse_event_number(after_text)
    except ValueError as exc:
        raise AppError(422, f"Last-Event-ID: {exc}") from None
    streams = request.app.state.event_streams  # app.lab_runs.shared_streams.make_stream_limiter
    owner = f"user:{visitor.user.id}" if visitor.user else visitor.learner_id
    stream = stream_events(run.run_dir, after, on_close=lambda: streams.close(owner, stream))
    if not await streams.open(owner, stream):
        raise AppError(429, f"You have {streams.per_owner} event streams open already; close a run page first.")
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/labs/runs/{run_id}/artifacts/{kind}")
def read_run_artifact(run_id: str, kind: str, sessions: SessionsDep, settings: SettingsDep, visitor: CurrentVisitor):
    """Download an artifact: adapter, merged, axolotl, trl, metrics or events."""
    run = _owned_run(sessions, run_id, visitor)
    path = service.artifact_path(run, kind, settings)
    _, media_type, filename = service.ARTIFACTS[kind]
    download = f"{run.recipe}-{run.id[:8]}-{filename}"
    if kind == "events":  # as relayed live: file paths inside the run, not on the server
        body = "".join(json.dumps(public_event(event, run.run_dir)) + "\n" for _, event in read_events(run.run_dir))
        return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{download}"'})
    return FileResponse(path, media_type=media_type, filename=download)


# -- pages -----------------------------------------------------------------------------------------
@router.get("/labs/runs", response_class=HTMLResponse)
def read_runs_page(request: Request, sessions: SessionsDep, visitor: CurrentVisitor):
    """My runs: status, recipe, base, duration, compliance before → after, downloads."""
    runs = [run_public(run) for run in store.list_runs(sessions, set(visitor.learner_ids))]
    return request.app.state.templates.TemplateResponse(request, "lab_runs.html", {"runs": runs})


@router.post("/labs/runs")
async def create_run_from_form(request: Request, settings: SettingsDep, sessions: SessionsDep, visitor: CurrentVisitor):
    """Launch from the chapter's form, then go to the run's live page."""
    run = await _launch_from_request(request, settings, sessions, visitor)
    return RedirectResponse(f"/labs/runs/{run.id}", status_code=303)


@router.get("/labs/runs/{run_id}", response_class=HTMLResponse)
def read_run_page(run_id: str, request: Request, sessions: SessionsDep, visitor: CurrentVisitor):
    """A run, live: progress, loss chart, samples and, when done, compliance before and after."""
    run = _owned_run(sessions, run_id, visitor)
    events = [public_event(event, run.run_dir) for _, event in read_events(run.run_dir)]
    return request.app.state.templates.TemplateResponse(
        request, "lab_run.html", {"run": run_public(run, with_metrics=True), "events": events}
    )


@router.post("/labs/runs/{run_id}/cancel")
def cancel_run_from_form(run_id: str, sessions: SessionsDep, visitor: CurrentVisitor):
    """Cancel from the run page, then show it again."""
    run = _owned_run(sessions, run_id, visitor)
    store.request_cancel(sessions, run.id)
    return RedirectResponse(f"/labs/runs/{run.id}", status_code=303)


@router.post("/labs/runs/{run_id}/delete")
async def delete_run_from_form(run_id: str, request: Request, settings: SettingsDep, sessions: SessionsDep,
                               visitor: CurrentVisitor):
    """Delete from the run page, then show the remaining runs."""
    run = await run_in_threadpool(_owned_run, sessions, run_id, visitor)
    await service.delete_run(run, settings, sessions, get_model_client(request.app))
    return RedirectResponse("/labs/runs", status_code=303)


@router.get("/labs/runs/{run_id}/evaluation", response_class=HTMLResponse)
def read_evaluation_page(run_id: str, request: Request, sessions: SessionsDep, visitor: CurrentVisitor):
    """Base vs fine-tuned on the same held-out prompts, the rule each answer broke, the regression prompts."""
    run = _owned_run(sessions, run_id, visitor)
    return request.app.state.templates.TemplateResponse(request, "lab_evaluation.html", evaluation_context(run))


@router.post("/labs/data/check", response_class=HTMLResponse)
async def create_data_check_from_form(request: Request, settings: SettingsDep, user: OptionalUser):
    """The data lab: check an uploaded file (or the course's sample set) and show the report."""
    await _limit_anonymous_checks(request, settings, user)
    if request.query_params.get("sample"):
        report = await service.check_sample(settings)
    else:
        upload = await _uploaded_file(request, settings)
        if upload is None:
            raise AppError(422, "file: choose a chat JSONL file to check, or use the sample set.")
        report = await service.check_upload(upload, settings)
    template = "_lab_data_report.html" if request.headers.get("HX-Request") else "lab_data_report.html"
    return request.app.state.templates.TemplateResponse(request, template, {"report": report})
