"""Typed dependencies that handlers declare: settings, the course content, the database."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from app.content import Chapter, Course
from app.errors import AppError
from app.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _course(request: Request) -> Course:
    return request.app.state.course


def _sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


def _chapter(slug: str, course: Annotated[Course, Depends(_course)]) -> Chapter:
    chapter = course.get(slug)
    if chapter is None:
        known = ", ".join(c.slug for c in course.chapters)
        raise AppError(404, f"There is no chapter {slug!r}. Chapters: {known}.")
    return chapter


SettingsDep = Annotated[Settings, Depends(_settings)]
CourseDep = Annotated[Course, Depends(_course)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
ChapterDep = Annotated[Chapter, Depends(_chapter)]
