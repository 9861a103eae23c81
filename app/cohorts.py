"""Cohorts: created by an instructor, joined with a code, code rotated, learners removed.

Who may do which is decided in app.authz; these functions only read and write the database.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import required_line
from app.db import insert_for, reading, transaction
from app.errors import AppError
from app.models import Cohort, CohortMember, User, utcnow

# No 0/O, 1/I/L: codes are read aloud and copied from projectors. 31^8 ≈ 8.5e11 codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
MAX_NAME = 120


def new_join_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """ABCD-EFGH: easier to read and type; the hyphen is optional when joining."""
    return f"{code[:4]}-{code[4:]}"


def normalize_code(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


def clean_cohort_name(name: str) -> str:
    return required_line(name, "name", "give the cohort a name your learners will recognise.", MAX_NAME)


def parse_start_date(text: str) -> date | None:
    """The optional start date from a form: empty means none."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise AppError(422, "starts_on: use a date like 2026-09-01, or leave it empty.") from None


def _with_fresh_code(factory: sessionmaker[Session], write) -> Cohort:
    # A collision among 8.5e11 codes is unlikely but possible; the unique index catches it, retry.
    for _ in range(5):
        try:
            with transaction(factory) as session:
                return write(session, new_join_code())
        except IntegrityError:
            continue
    raise AppError(503, "Could not find a free join code; try again.")


def create_cohort(factory: sessionmaker[Session], instructor: User, name: str, starts_on: date | None = None) -> Cohort:
    name = clean_cohort_name(name)

    def write(session: Session, code: str) -> Cohort:
        cohort = Cohort(name=name, starts_on=starts_on, join_code=code, instructor_id=instructor.id)
        session.add(cohort)
        session.flush()
        return cohort

    return _with_fresh_code(factory, write)


def rotate_code(factory: sessionmaker[Session], cohort: Cohort) -> Cohort:
    """A new join code; the old one stops working at once. Learners already in stay in."""

    def write(session: Session, code: str) -> Cohort:
        stored = session.get(Cohort, cohort.id)
        stored.join_code = code
        return stored

    return _with_fresh_code(factory, write)


def join_cohort(factory: sessionmaker[Session], user: User, code: str) -> Cohort:
    """Add `user` to the cohort with this code; joining twice is harmless."""
    normalized = normalize_code(code)
    if len(normalized) != CODE_LENGTH:
        raise AppError(422, f"code: a join code has {CODE_LENGTH} letters and digits, like ABCD-EFGH.")
    with transaction(factory) as session:
        cohort = session.scalar(select(Cohort).where(Cohort.join_code == normalized))
        if cohort is None:
            raise AppError(404, "code: no cohort has this join code. Check it with your instructor.")
        if cohort.instructor_id == user.id:
            raise AppError(409, "code: you teach this cohort; share the code with your learners.")
        session.execute(
            insert_for(session, CohortMember)
            .values(cohort_id=cohort.id, user_id=user.id, joined_at=utcnow())
            .on_conflict_do_nothing(index_elements=["cohort_id", "user_id"])
        )
    return cohort


def remove_member(factory: sessionmaker[Session], cohort: Cohort, user_id: int) -> None:
    """Take a learner out of the cohort; their own progress is theirs and stays."""
    with transaction(factory) as session:
        removed = session.execute(
            delete(CohortMember).where(CohortMember.cohort_id == cohort.id, CohortMember.user_id == user_id)
        ).rowcount
    if not removed:
        raise AppError(404, f"There is no learner {user_id} in this cohort.")


def get_cohort(factory: sessionmaker[Session], cohort_id: int) -> Cohort | None:
    with reading(factory) as session:
        return session.get(Cohort, cohort_id)


@dataclass(frozen=True)
class CohortSummary:
    cohort: Cohort
    instructor_name: str
    learners: int


def list_cohorts(factory: sessionmaker[Session], instructor: User | None = None) -> list[CohortSummary]:
    """Cohorts taught by `instructor` (all of them when None), newest first, with their learner counts."""
    learners = (
        select(func.count(CohortMember.id)).where(CohortMember.cohort_id == Cohort.id).scalar_subquery()
    )
    query = select(Cohort, User.display_name, learners).join(User, User.id == Cohort.instructor_id)
    if instructor is not None:
        query = query.where(Cohort.instructor_id == instructor.id)
    with reading(factory) as session:
        rows = session.execute(query.order_by(Cohort.id.desc())).all()
    return [CohortSummary(cohort, name, count) for cohort, name, count in rows]


@dataclass(frozen=True)
class Membership:
    cohort_id: int
    name: str
    instructor_name: str
    joined_at: datetime


def memberships(factory: sessionmaker[Session], user: User) -> list[Membership]:
    """The cohorts `user` has joined, most recent first."""
    with reading(factory) as session:
        rows = session.execute(
            select(Cohort.id, Cohort.name, User.display_name, CohortMember.joined_at)
            .join(CohortMember, CohortMember.cohort_id == Cohort.id)
            .join(User, User.id == Cohort.instructor_id)
            .where(CohortMember.user_id == user.id)
            .order_by(CohortMember.joined_at.desc(), Cohort.id.desc())
        ).all()
    return [Membership(*row) for row in rows]
