"""What a learner did: chapters opened, quiz answers and exercises solved, written and summarised.

Writes go to one learner (this browser); summaries read a set of learners, so an account that owns
several browsers sees one progress: a chapter opened anywhere is opened, and for each question the
latest answer from any of them counts, once. Each write is one atomic statement or transaction, safe
under concurrency on SQLite (BEGIN IMMEDIATE, see app.db) and PostgreSQL (upserts).
"""

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.content import Course
from app.db import db_time, insert_for, marks, on_sqlite, read_rows, reading, write_rows
from app.exercises.models import ExerciseAttempt
from app.models import ChapterVisit, Learner, QuizAnswer, utcnow


def ensure_learner(session: Session, learner_id: str) -> None:
    """Create the learner row, or mark it as seen now."""
    now = utcnow()
    statement = insert_for(session, Learner).values(id=learner_id, created_at=now, last_seen_at=now)
    session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"last_seen_at": now}))


# The writes of every click are plain SQL on a bare connection (app.db.write_rows); both databases spell
# these upserts alike.
_ENSURE_LEARNER = ("INSERT INTO learners (id, created_at, last_seen_at, content_version) VALUES (?, ?, ?, 0)"
                   " ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at")
_ADD_VISITS = ("INSERT INTO chapter_visits (learner_id, chapter_slug, first_opened_at, last_opened_at, visits)"
               " VALUES (?, ?, ?, ?, ?) ON CONFLICT (learner_id, chapter_slug) DO UPDATE SET"
               " visits = chapter_visits.visits + excluded.visits, last_opened_at = excluded.last_opened_at")
_ADD_ANSWER = ("INSERT INTO quiz_answers (learner_id, chapter_slug, question_id, option_id, correct, answered_at)"
               " VALUES (?, ?, ?, ?, ?, ?)")
# The same, on PostgreSQL, behind the learner's upsert in one statement: the row's learner comes out of the
# upsert's RETURNING, so the upsert runs first. Sub-statements of a WITH otherwise run in no set order, and a
# visit row locked before its learner's row deadlocked with a flush that locks learners, then visits.
_ADD_VISITS_AFTER_LEARNER = _ADD_VISITS.replace("VALUES (?, ?, ?, ?, ?)", "SELECT id, ?, ?, ?, ? FROM learner")
_ADD_ANSWER_AFTER_LEARNER = _ADD_ANSWER.replace("VALUES (?, ?, ?, ?, ?, ?)", "SELECT id, ?, ?, ?, ?, ? FROM learner")


def record_visit(factory: sessionmaker[Session], learner_id: str, chapter_slug: str) -> None:
    record_visits(factory, {(learner_id, chapter_slug): 1})


def record_visits(factory: sessionmaker[Session], counts: Mapping[tuple[str, str], int]) -> None:
    """Add `counts` ((learner, chapter) → views) in one transaction; a first view creates the row."""
    now = db_time(factory, utcnow())
    if len(counts) == 1:  # a learner's first view of a chapter, written while they wait
        ((learner, slug), views), = counts.items()
        write_rows(factory, _with_learner(factory, learner, now, (_ADD_VISITS, _ADD_VISITS_AFTER_LEARNER),
                                          (slug, now, now, views)))
        return
    # sorted: the same lock order everywhere
    learners = [(_ENSURE_LEARNER, (learner, now, now)) for learner in sorted({learner for learner, _ in counts})]
    visits = [(_ADD_VISITS, (learner, slug, now, now, views)) for (learner, slug), views in sorted(counts.items())]
    write_rows(factory, learners + visits)


def record_answer(
    factory: sessionmaker[Session], learner_id: str, chapter_slug: str, question_id: str, option_id: str, correct: bool
) -> None:
    now = db_time(factory, utcnow())
    answer = (chapter_slug, question_id, option_id, bool(correct), now)
    write_rows(factory, _with_learner(factory, learner_id, now, (_ADD_ANSWER, _ADD_ANSWER_AFTER_LEARNER), answer))


def _with_learner(
    factory: sessionmaker[Session], learner_id: str, now, sql: tuple[str, str], params: tuple
) -> list[tuple]:
    """The learner's row made or marked as seen, then `sql` (its VALUES form, and its form reading the learner from
    the upsert) with the learner and `params`: on PostgreSQL as one statement (the upsert in a WITH), which runs
    alone in one round trip (app.db.write_rows) where two statements in a transaction took four; SQLite allows no
    INSERT in a WITH, and a statement there costs a function call, not a round trip."""
    values, after_learner = sql
    if on_sqlite(factory):
        return [(_ENSURE_LEARNER, (learner_id, now, now)), (values, (learner_id, *params))]
    return [(f"WITH learner AS ({_ENSURE_LEARNER} RETURNING id) {after_learner}", (learner_id, now, now, *params))]


@dataclass(frozen=True)
class ChapterProgress:
    opened: bool
    answered: int
    correct: int
    exercises_solved: int = 0


def latest_answers(factory: sessionmaker[Session], learner_ids: Collection[str], chapter_slug: str) -> dict[str, str]:
    """question id → the option chosen most recently by any of `learner_ids`, for one chapter (read on
    every chapter view that is not cached, so a bare read)."""
    sql = ("SELECT question_id, option_id FROM quiz_answers WHERE learner_id IN ({marks}) AND chapter_slug = ?"
           " ORDER BY id").format(marks=marks(learner_ids))
    return {question_id: option_id for question_id, option_id in read_rows(factory, sql, [*learner_ids, chapter_slug])}


def course_progress(factory: sessionmaker[Session], learner_ids: Collection[str]) -> dict[str, ChapterProgress]:
    """chapter slug → opened / questions answered / answered correctly (latest answer counts)."""
    with reading(factory) as session:
        opened = set(
            session.scalars(
                select(ChapterVisit.chapter_slug).where(ChapterVisit.learner_id.in_(learner_ids)).distinct()
            )
        )
        latest_ids = (
            select(func.max(QuizAnswer.id))
            .where(QuizAnswer.learner_id.in_(learner_ids))
            .group_by(QuizAnswer.chapter_slug, QuizAnswer.question_id)
        )
        rows = session.execute(
            select(QuizAnswer.chapter_slug, QuizAnswer.correct).where(QuizAnswer.id.in_(latest_ids))
        ).all()
        solved = Counter(slug for slug, _exercise in solved_exercises(session, learner_ids))
    answered: dict[str, list[bool]] = {}
    for slug, correct in rows:
        answered.setdefault(slug, []).append(bool(correct))
    slugs = opened | set(answered) | set(solved)
    return {
        slug: ChapterProgress(
            slug in opened, len(answered.get(slug, [])), sum(answered.get(slug, [])), solved[slug]
        )
        for slug in slugs
    }


def solved_exercises(session: Session, learner_ids) -> list[tuple[str, str]]:
    """(chapter slug, exercise id) for each exercise any of `learner_ids` has answered correctly, once."""
    return session.execute(
        select(ExerciseAttempt.chapter_slug, ExerciseAttempt.exercise_id)
        .where(ExerciseAttempt.learner_id.in_(learner_ids), ExerciseAttempt.correct.is_(True))
        .distinct()
    ).all()


def progress_report(course: Course, progress: dict[str, ChapterProgress]) -> dict:
    """`{chapters: [{slug, opened, answered, correct, quiz_count, exercises_solved, exercise_count}]}` in
    course order: /api/…/progress."""
    chapters = []
    for chapter in course.chapters:
        p = progress.get(chapter.slug) or ChapterProgress(False, 0, 0)
        chapters.append(
            {
                "slug": chapter.slug,
                "opened": p.opened,
                "answered": p.answered,
                "correct": p.correct,
                "quiz_count": len(chapter.meta.quiz),
                "exercises_solved": p.exercises_solved,
                "exercise_count": len(chapter.meta.exercises),
            }
        )
    return {"chapters": chapters}


def account_progress(factory: sessionmaker[Session], account_id: int) -> dict[str, ChapterProgress]:
    """Progress of every browser the account owns, as one."""
    return course_progress(factory, select(Learner.id).where(Learner.account_id == account_id))
