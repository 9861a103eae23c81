"""Chapter 6's serving lab over HTTP: one prompt to a base and several of the learner's adapters at once.

A plain form post answers with a full page; an htmx post (HX-Request) with the results fragment only.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from app.deps import SessionsDep, SettingsDep
from app.identity import CurrentVisitor
from app.serving import compare
from app.serving.model_server import get_model_client

router = APIRouter(prefix="/labs/serving", tags=["labs"])


def _render(request: Request, context: dict, status_code: int = 200, headers: dict | None = None) -> HTMLResponse:
    fragment = bool(request.headers.get("HX-Request"))
    template = "_serving_lab_results.html" if fragment else "serving_lab.html"
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code,
                                                        headers=headers)


@router.get("", response_class=HTMLResponse)
def read_serving_lab(request: Request, settings: SettingsDep, sessions: SessionsDep, visitor: CurrentVisitor):
    """The lab on a page of its own: the form, the routing view's place and the `openai` snippet."""
    context = compare.widget_context(sessions, visitor.learner_ids, settings)
    return request.app.state.templates.TemplateResponse(request, "serving_lab.html", context)


@router.post("/compare", response_class=HTMLResponse)
async def create_comparison(request: Request, settings: SettingsDep, sessions: SessionsDep, visitor: CurrentVisitor):
    """Send the prompt to the base and the chosen adapters at once; their answers side by side, and the batches."""
    fields = await request.form()
    typed = compare.LabForm(str(fields.get("prompt") or ""), str(fields.get("system") or ""),
                            tuple(str(m) for m in fields.getlist("models")))
    bases, adapters = await run_in_threadpool(compare.lab_models, sessions, visitor.learner_ids, settings)
    context = await run_in_threadpool(compare.widget_context, sessions, visitor.learner_ids, settings, typed)
    try:
        form = compare.parse_form(dict(fields), list(typed.models), adapters)
    except compare.LabInputError as exc:
        return _render(request, context | {"error": str(exc)}, 422)
    client = get_model_client(request.app)
    answers = await compare.run_comparison(client, form, compare.targets(form, bases, adapters))
    routing = await compare.routing_view(client, answers, adapters)
    waiting = [a for a in answers if a.get("retry_after_s")]
    retry_after = max((a["retry_after_s"] for a in waiting), default=0)
    context |= {"answers": answers, "routing": routing, "retry_after_s": retry_after,
                "unavailable": waiting[0]["error"] if waiting else None}
    if waiting:
        return _render(request, context, 503, {"Retry-After": str(retry_after)})
    return _render(request, context)
