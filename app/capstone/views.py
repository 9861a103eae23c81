"""What the capstone page and API show: each checklist item with whether it is done and why."""

from app.capstone.schema import DETECTORS
from app.capstone.service import CapstoneStatus
from app.content import Capstone
from app.errors import AppError


def require_capstone(capstone: Capstone | None) -> Capstone:
    if capstone is None:
        raise AppError(404, "This course has no capstone (chapters/capstone.md is missing).")
    return capstone


def capstone_public(capstone: Capstone, status: CapstoneStatus) -> dict:
    """`{title, url, done, total, items: [{id, stage, text, detect, ticked, detected, done}]}`."""
    items = [
        {
            "id": item.id,
            "stage": stage.id,
            "text": item.text,
            "detect": item.detect,
            "ticked": item.id in status.ticked,
            "detected": item.id in status.detected,
            "done": status.done(item.id),
        }
        for stage in capstone.meta.stages
        for item in stage.items
    ]
    return {
        "title": capstone.meta.title,
        "url": capstone.url,
        "done": sum(i["done"] for i in items),
        "total": len(items),
        "items": items,
    }


def checklist_context(capstone: Capstone, status: CapstoneStatus, just_saved: bool = False) -> dict:
    return {
        "capstone": capstone,
        "status": status,
        "detectors": DETECTORS,
        "done": status.done_count(capstone.meta),
        "total": len(capstone.meta.items),
        "just_saved": just_saved,
    }
