"""Liveness and readiness: the process answers and the database is reachable; and which worker answered,
so an operator (and a test) can see that exactly one of several workers runs the lab scheduler."""

import os

from fastapi import APIRouter, Request
from sqlalchemy import text

from app.db import reading
from app.deps import CourseDep, SessionsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health(request: Request, sessions: SessionsDep, course: CourseDep) -> dict:
    """Report ok when the database answers a trivial query."""
    with reading(sessions) as session:
        session.execute(text("SELECT 1"))
    worker = {"pid": os.getpid(), "runs_lab_scheduler": getattr(request.app.state, "scheduler", None) is not None}
    return {"status": "ok", "database": "ok", "chapters": len(course.chapters), "worker": worker}
