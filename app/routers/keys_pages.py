"""The API keys page: create a key (its secret shown once), list and revoke keys, and give trained runs a name
to call them by in /v1. Plain forms that work without JavaScript; with htmx each form swaps the panel."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from app.deps import ObjectId, SessionsDep, SettingsDep
from app.errors import TITLES, AppError
from app.forms import FormText, render
from app.identity import CurrentVisitor
from app.serving.catalog import servable_models
from app.serving.keys import create_key_for, list_keys, revoke_key
from app.serving.overrides import serving_limits
from app.serving.served_names import set_served_name

router = APIRouter(prefix="/account/keys", tags=["keys"])


def _context(sessions, settings, visitor) -> dict:
    models = servable_models(sessions, visitor.learner_ids, settings)
    return {
        "keys": list_keys(sessions, visitor.learner_ids),
        "adapters": [model for model in models if model.is_adapter],
        "bases": [model for model in models if not model.is_adapter],
        "cap": serving_limits(sessions, settings).keys_per_user,
        "api_base": settings.base_url.rstrip("/") + "/v1",
        "user": visitor.user,
    }


async def _page(request: Request, sessions, settings, visitor, extra: dict | None = None, status_code: int = 200):
    """The page, or for htmx just its panel; an error is shown in the panel (htmx gets it with a 200 so it swaps)."""
    context = await run_in_threadpool(_context, sessions, settings, visitor)
    context.update(extra or {})
    if request.headers.get("HX-Request"):
        return render(request, "_api_keys_panel.html", context, status_code=status_code if status_code < 400 else 200)
    return render(request, "api_keys.html", context, status_code=status_code)


async def _submit(request: Request, sessions, settings, visitor, action, redirect_to: str):
    try:
        await run_in_threadpool(action)
    except AppError as error:
        extra = {"error": error.detail, "error_title": TITLES.get(error.status_code, "Error")}
        return await _page(request, sessions, settings, visitor, extra, status_code=error.status_code)
    if request.headers.get("HX-Request"):
        return await _page(request, sessions, settings, visitor, {"done": redirect_to.partition("=")[2]})
    return RedirectResponse(redirect_to, status_code=303)


@router.get("", response_class=HTMLResponse)
async def read_keys_page(request: Request, sessions: SessionsDep, settings: SettingsDep, visitor: CurrentVisitor):
    """Your API keys and your servable runs."""
    return await _page(request, sessions, settings, visitor, {"done": request.query_params.get("done", "")})


@router.post("", response_class=HTMLResponse)
async def create_key_from_form(request: Request, sessions: SessionsDep, settings: SettingsDep,
                               visitor: CurrentVisitor, name: FormText = ""):
    """Create a key and show its secret this once (a page, never a redirect: the secret stays out of URLs)."""
    try:
        key, secret = await run_in_threadpool(create_key_for, sessions, settings, visitor, name)
    except AppError as error:
        extra = {"error": error.detail, "error_title": TITLES.get(error.status_code, "Error"), "values": {"name": name}}
        return await _page(request, sessions, settings, visitor, extra, status_code=error.status_code)
    response = await _page(request, sessions, settings, visitor, {"new_key": key, "secret": secret},
                           status_code=201)
    response.headers["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@router.post("/{key_id}/revoke", response_class=HTMLResponse)
async def revoke_key_from_form(request: Request, key_id: ObjectId, sessions: SessionsDep, settings: SettingsDep,
                               visitor: CurrentVisitor):
    """Revoke a key; /v1 refuses it from now on."""
    return await _submit(request, sessions, settings, visitor,
                         lambda: revoke_key(sessions, key_id, visitor.learner_ids), "/account/keys?done=revoked")


@router.post("/runs/{run_id}/name", response_class=HTMLResponse)
async def update_served_name_from_form(request: Request, run_id: str, sessions: SessionsDep, settings: SettingsDep,
                                       visitor: CurrentVisitor, served_name: FormText = ""):
    """Name a run for /v1 (an empty name clears it)."""
    return await _submit(request, sessions, settings, visitor,
                         lambda: set_served_name(sessions, run_id, visitor.learner_ids, served_name, settings),
                         "/account/keys?done=named")
