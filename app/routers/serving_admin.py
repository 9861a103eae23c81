"""The admin's serving limits page: the four `serving_*` limits in force, each changeable (checked against the
same bounds as the settings) or reset to the server's setting. Plain forms; enforced by /v1 and /api/keys."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import ServingAdmin, SessionsDep, SettingsDep
from app.forms import FormText, render, submit_form
from app.serving.overrides import ADJUSTABLE, bounds, overrides, reset_serving_limit, set_serving_limit

router = APIRouter(prefix="/admin/serving", tags=["admin"])

HELP = {
    "serving_keys_per_user": "API keys one account (or browser without an account) may hold, revoked ones aside.",
    "serving_tokens_per_minute": "Tokens one key may use per minute: the prompt plus the max_tokens asked for.",
    "serving_concurrent_requests": "Requests one key may have in flight at once.",
    "serving_max_tokens": "The largest max_tokens one chat completion may ask for.",
}


def _context(admin, sessions, settings) -> dict:
    custom = overrides(sessions)
    rows = [{"name": name, "value": custom.get(name, getattr(settings, name)), "default": getattr(settings, name),
             "overridden": name in custom, "bounds": bounds(name), "help": HELP[name]} for name in ADJUSTABLE]
    return {"user": admin, "limits": rows}


@router.get("", response_class=HTMLResponse)
def read_serving_limits(request: Request, admin: ServingAdmin, sessions: SessionsDep, settings: SettingsDep):
    """The serving limits in force, for an admin."""
    return render(request, "admin_serving.html", {**_context(admin, sessions, settings),
                                                  "saved": request.query_params.get("saved", "")})


@router.post("", response_class=HTMLResponse)
def update_serving_limit_from_form(request: Request, admin: ServingAdmin, sessions: SessionsDep,
                                   settings: SettingsDep, name: FormText = "", value: FormText = "",
                                   reset: FormText = ""):
    """Set one limit (or, with `reset`, go back to the server's setting); refused, the page says why."""
    def change():
        return reset_serving_limit(sessions, name) if reset else set_serving_limit(sessions, name, value)

    return submit_form(request, "admin_serving.html", lambda: _context(admin, sessions, settings), change,
                       f"/admin/serving?saved={name if name in ADJUSTABLE else ''}")
