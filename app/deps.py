"""Typed dependencies that handlers declare: settings, the course content, the database, and the
objects a user may act on (each one checked by app.authz before the handler sees it).
"""

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import get_user
from app.authz import authorize, not_found_message
from app.cohorts import get_cohort
from app.content import Chapter, Course
from app.errors import AppError
from app.identity import CurrentUser
from app.models import Cohort, User
from app.settings import Settings


# These four only read app state, so they are `async`: FastAPI then runs them on the event loop
# instead of sending each through the thread pool, where under load every hop waits its turn.
async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _course(request: Request) -> Course:
    return request.app.state.course


async def _sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


def find_chapter(course: Course, slug: str) -> Chapter:
    """The chapter `slug`, or a 404 that lists the chapters there are."""
    chapter = course.get(slug)
    if chapter is None:
        known = ", ".join(c.slug for c in course.chapters)
        raise AppError(404, f"There is no chapter {slug!r}. Chapters: {known}.")
    return chapter


async def _chapter(slug: str, course: Annotated[Course, Depends(_course)]) -> Chapter:
    return find_chapter(course, slug)


SettingsDep = Annotated[Settings, Depends(_settings)]
CourseDep = Annotated[Course, Depends(_course)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
ChapterDep = Annotated[Chapter, Depends(_chapter)]


# Ids in paths fit the database's 32-bit integers: a larger one is a clear 422, not a driver error.
ObjectId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _cohort_for(action: str):
    def load(cohort_id: ObjectId, user: CurrentUser, sessions: SessionsDep) -> Cohort:
        cohort = get_cohort(sessions, cohort_id)
        if cohort is None:
            raise AppError(404, not_found_message("cohort", cohort_id))
        authorize(sessions, user, "cohort", action, cohort)
        return cohort

    return load


def _progress_owner(user_id: ObjectId, user: CurrentUser, sessions: SessionsDep) -> User:
    target = get_user(sessions, user_id)
    if target is None:
        raise AppError(404, not_found_message("progress", user_id))
    authorize(sessions, user, "progress", "read", target)
    return target


def _allowed_to(resource: str, action: str):
    def check(user: CurrentUser, sessions: SessionsDep) -> User:
        authorize(sessions, user, resource, action)
        return user

    return check


# Each of these has passed app.authz for its action; a handler that declares one needs no other check.
ReadableCohort = Annotated[Cohort, Depends(_cohort_for("read"))]
ManagedCohort = Annotated[Cohort, Depends(_cohort_for("manage"))]
ProgressOwner = Annotated[User, Depends(_progress_owner)]
CohortCreator = Annotated[User, Depends(_allowed_to("cohort", "create"))]
CohortReader = Annotated[User, Depends(_allowed_to("cohort", "read"))]
UserAdmin = Annotated[User, Depends(_allowed_to("user", "manage"))]
ServingAdmin = Annotated[User, Depends(_allowed_to("serving", "manage"))]
