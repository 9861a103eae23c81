"""The capstone page and its checklist form: a plain post without JavaScript, an htmx swap with it."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.capstone.service import capstone_status, save_ticks
from app.capstone.views import checklist_context, require_capstone
from app.deps import CourseDep, SessionsDep
from app.identity import CurrentVisitor

router = APIRouter(prefix="/capstone", tags=["capstone"])


@router.get("", response_class=HTMLResponse)
def read_capstone(request: Request, course: CourseDep, sessions: SessionsDep, visitor: CurrentVisitor):
    """The capstone text with this learner's checklist."""
    capstone = require_capstone(course.capstone)
    status = capstone_status(sessions, capstone.meta, visitor.learner_ids)
    last = course.chapters[-1]
    return request.app.state.templates.TemplateResponse(
        request, "capstone.html", {**checklist_context(capstone, status), "previous": last}
    )


@router.post("/checklist", response_class=HTMLResponse)
def create_checklist(
    request: Request,
    course: CourseDep,
    sessions: SessionsDep,
    visitor: CurrentVisitor,
    ticked: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies form defaults)
):
    """Save the ticked items; htmx gets the checklist back, a browser is sent back to it."""
    capstone = require_capstone(course.capstone)
    save_ticks(sessions, capstone.meta, visitor.learner_id, visitor.learner_ids, ticked)
    if request.headers.get("HX-Request"):
        status = capstone_status(sessions, capstone.meta, visitor.learner_ids)
        return request.app.state.templates.TemplateResponse(
            request, "_capstone_checklist.html", checklist_context(capstone, status, just_saved=True)
        )
    return RedirectResponse("/capstone#checklist", status_code=303)
