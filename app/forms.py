"""Pages with forms that work without JavaScript: render a page (with a notice after a redirect), and
when a submission is refused, the same form again with the reason beside the field it names and what
was typed kept (passwords never are). A successful submission redirects (303), so reloading is harmless.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from app.errors import TITLES, AppError

# A form field; the bound keeps a huge post from reaching the checks (which give the real limits).
FormText = Annotated[str, Form(max_length=1000)]

# Shown after a redirect, chosen by key so a link cannot put arbitrary words on the page.
NOTICES = {
    "welcome": "Your account is ready. Everything you did in this browser before is part of it now.",
    "logged-in": "You are logged in. Progress from this browser is part of your account.",
    "joined": "You joined the cohort. Your instructor can now see your progress.",
    "password": "Password changed. Every other device has been logged out.",
    "everywhere": "You have been logged out on every device.",
    "created": "Cohort created. Share the join code with your learners.",
    "rotated": "New join code. The old one no longer works; learners already in stay in.",
    "removed": "The learner was removed from the cohort. Their own progress is theirs and stays.",
    "role": "Role changed.",
}


async def read_json_object(request: Request, hint: str) -> dict:
    """The body as a JSON object; 422 naming what is wrong for anything else (a body nested too deep to
    parse included), with `hint` showing what to send."""
    try:
        fields = await request.json()
    except RecursionError:
        raise AppError(422, f"body: nested too deeply; {hint}") from None
    except ValueError:
        raise AppError(422, f"body: not valid JSON; {hint}") from None
    if not isinstance(fields, dict):
        raise AppError(422, "body: a JSON object is expected")
    return fields


def render(request: Request, template: str, context: dict | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return request.app.state.templates.TemplateResponse(
        request, template, {"notice": notice, "values": {}, **(context or {})}, status_code=status_code, headers=headers
    )


def safe_next(target: str, default: str) -> str:
    """Only a path on this site: never //host or \\host, which browsers treat as another site."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def submit_form(
    request: Request,
    template: str,
    context: dict | Callable[[], dict],
    action: Callable[[], Any],
    redirect_to: str | Callable[[Any], str],
) -> Response:
    """Run `action()`; on success 303 to `redirect_to`; refused, the form again with the reason."""
    try:
        result = action()
    except AppError as error:
        field, separator, _ = error.detail.partition(": ")
        page = context() if callable(context) else context
        page = {
            **page,
            "error": error.detail,
            "error_title": TITLES.get(error.status_code, "Error"),
            "error_field": field if separator and field.isidentifier() else None,
        }
        return render(request, template, page, status_code=error.status_code, headers=error.headers)
    return RedirectResponse(redirect_to(result) if callable(redirect_to) else redirect_to, status_code=303)
