"""Sweeps over HTTP: launch one (JSON or the chapter's form), read it, cancel it, and its live page."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from slowapi.util import get_remote_address
from starlette.concurrency import run_in_threadpool

from app.authz import owned_sweep
from app.deps import SessionsDep, SettingsDep
from app.errors import AppError, describe_validation_errors
from app.forms import read_json_object
from app.identity import CurrentVisitor
from app.rate_limits import enforce
from app.sweeps import service
from app.sweeps.views import sweep_detail, sweeps_public

router = APIRouter(tags=["sweeps"])


async def _sweep_create(request: Request) -> service.SweepCreate:
    """JSON (`examples` a list) or a form (`examples` comma-separated text); empty fields take the recipe's."""
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/")):
        fields = {k: v for k, v in (await request.form()).items() if v not in (None, "") and k != "csrftoken"}
        if "examples" in fields:
            fields["examples"] = [part.strip() for part in str(fields["examples"]).split(",") if part.strip()]
    else:
        fields = await read_json_object(request, 'send JSON like {"recipe": "legal-format", "examples": [0, 8, 32]}')
    try:
        return service.SweepCreate.model_validate(fields)
    except ValidationError as exc:
        raise AppError(422, describe_validation_errors(exc.errors())) from exc


async def _launch(request: Request, create: service.SweepCreate, settings, sessions, visitor):
    """Queue the sweep off the event loop. A visitor without an account spends one launch of the per-address
    budget (a sweep is one action); its runs count against the owner's limits and the anonymous queue cap."""
    anonymous = visitor.user is None
    if anonymous:  # in a thread: with a shared store (Redis) counting is a network round trip
        await run_in_threadpool(enforce, request, "lab-launch:ip", settings.lab_anonymous_launches_per_ip,
                                get_remote_address(request))
    return await run_in_threadpool(service.launch_sweep, create, settings, sessions, visitor.learner_id,
                                   set(visitor.learner_ids), anonymous)


@router.post("/api/labs/sweeps", status_code=201)
async def create_sweep(request: Request, settings: SettingsDep, sessions: SessionsDep, visitor: CurrentVisitor):
    """Queue one run per number of examples: `{"id", "runs": [run ids]}`."""
    create = await _sweep_create(request)
    sweep, run_ids = await _launch(request, create, settings, sessions, visitor)
    return {"id": sweep.id, "runs": run_ids}


@router.get("/api/labs/sweeps")
def read_sweeps(sessions: SessionsDep, visitor: CurrentVisitor) -> list[dict]:
    """Your sweeps, newest first."""
    return sweeps_public(sessions, visitor.learner_ids)


@router.get("/api/labs/sweeps/{sweep_id}")
def read_sweep(sweep_id: str, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """One of your sweeps: its status and each run's examples, status and compliance after training."""
    return sweep_detail(sessions, owned_sweep(sessions, sweep_id, visitor.learner_ids))


@router.post("/api/labs/sweeps/{sweep_id}/cancel")
def cancel_sweep(sweep_id: str, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """Cancel every run of your sweep that is still queued or running."""
    sweep = owned_sweep(sessions, sweep_id, visitor.learner_ids)
    service.cancel_sweep(sessions, sweep.id)
    return sweep_detail(sessions, sweep)


@router.post("/labs/sweeps")
async def create_sweep_from_form(request: Request, settings: SettingsDep, sessions: SessionsDep,
                                 visitor: CurrentVisitor):
    """Launch from the chapter's form, then go to the sweep's page."""
    create = await _sweep_create(request)
    sweep, _ = await _launch(request, create, settings, sessions, visitor)
    return RedirectResponse(f"/labs/sweeps/{sweep.id}", status_code=303)


@router.get("/labs/sweeps/{sweep_id}", response_class=HTMLResponse)
def read_sweep_page(sweep_id: str, request: Request, sessions: SessionsDep, visitor: CurrentVisitor):
    """The sweep's runs and their progress (a fragment that refreshes itself for htmx), and its chart link."""
    sweep = sweep_detail(sessions, owned_sweep(sessions, sweep_id, visitor.learner_ids))
    template = "_sweep_progress.html" if request.headers.get("HX-Request") else "lab_sweep.html"
    return request.app.state.templates.TemplateResponse(request, template, {"sweep": sweep})


@router.post("/labs/sweeps/{sweep_id}/cancel")
def cancel_sweep_from_form(sweep_id: str, sessions: SessionsDep, visitor: CurrentVisitor):
    """Cancel from the sweep page, then show it again."""
    sweep = owned_sweep(sessions, sweep_id, visitor.learner_ids)
    service.cancel_sweep(sessions, sweep.id)
    return RedirectResponse(f"/labs/sweeps/{sweep.id}", status_code=303)
