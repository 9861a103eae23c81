"""Liveness and readiness: the process answers and the database is reachable."""

from fastapi import APIRouter
from sqlalchemy import text

from app.db import reading
from app.deps import CourseDep, SessionsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health(sessions: SessionsDep, course: CourseDep) -> dict:
    """Report ok when the database answers a trivial query."""
    with reading(sessions) as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok", "chapters": len(course.chapters)}
