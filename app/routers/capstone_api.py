"""JSON API for the capstone checklist: read it, and replace the items ticked by hand."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.capstone.service import capstone_status, save_ticks
from app.capstone.views import capstone_public, require_capstone
from app.deps import CourseDep, SessionsDep
from app.identity import CurrentVisitor

router = APIRouter(prefix="/api/capstone", tags=["capstone"])


class ChecklistIn(BaseModel):
    ticked: list[str] = Field(max_length=100)


@router.get("")
def read_capstone(course: CourseDep, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """This learner's checklist: every item, ticked by hand or detected from lab runs."""
    capstone = require_capstone(course.capstone)
    return capstone_public(capstone, capstone_status(sessions, capstone.meta, visitor.learner_ids))


@router.post("/checklist")
def create_checklist(body: ChecklistIn, course: CourseDep, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """Make `ticked` the items ticked by hand (detected items stay done regardless)."""
    capstone = require_capstone(course.capstone)
    save_ticks(sessions, capstone.meta, visitor.learner_id, visitor.learner_ids, body.ticked)
    return capstone_public(capstone, capstone_status(sessions, capstone.meta, visitor.learner_ids))
