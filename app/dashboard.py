"""The instructor's view of a cohort: learners × chapters (opened, quiz score, exercises solved), how
the cohort does on each question and which wrong option it picks most (the misconception), how it does
on each exercise, and the same as CSV.

A learner's progress is everything their account's browsers did; the latest answer to a question
counts for the score, the first attempt shows the misconception (before the explanation was read).
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.capstone.schema import CapstoneMatter
from app.capstone.service import NOTHING, CapstoneStatus, cohort_capstone
from app.content import Chapter, Course, Question
from app.db import reading
from app.exercises.service import attempt_counts
from app.models import ChapterVisit, Cohort, CohortMember, Learner, QuizAnswer, User
from app.progress import ChapterProgress


def as_utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were written in UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass
class LearnerRow:
    user_id: int
    display_name: str
    email: str
    joined_at: datetime
    last_active_at: datetime | None = None
    chapters: dict[str, ChapterProgress] = field(default_factory=dict)
    exercises: dict[str, "ExerciseScore"] = field(default_factory=dict)  # chapter slug → score
    capstone: CapstoneStatus = NOTHING


@dataclass(frozen=True)
class ExerciseScore:
    """One learner's exercises in one chapter: how many solved, how many tried, answers sent."""

    solved: int = 0
    tried: int = 0
    attempts: int = 0


@dataclass(frozen=True)
class ExerciseStats:
    chapter: Chapter
    exercise_id: str
    tried: int  # learners who sent at least one answer
    solved: int  # learners who answered correctly at least once
    attempts: int


@dataclass(frozen=True)
class WrongOption:
    option_id: str
    text: str
    learners: int


@dataclass(frozen=True)
class QuestionStats:
    chapter: Chapter
    question: Question
    answered: int
    correct: int
    first_try_correct: int
    top_wrong: WrongOption | None


@dataclass(frozen=True)
class Dashboard:
    cohort: Cohort
    chapters: list[Chapter]
    learners: list[LearnerRow]
    questions: list[QuestionStats]
    exercises: list[ExerciseStats] = field(default_factory=list)
    capstone: CapstoneMatter | None = None


def _answers(session: Session, member_learners, pick) -> list[tuple]:
    """(account, chapter, question, option, correct) for the first (pick=min) or latest (max) answer."""
    chosen = (
        select(pick(QuizAnswer.id))
        .join(member_learners, member_learners.c.id == QuizAnswer.learner_id)
        .group_by(member_learners.c.account_id, QuizAnswer.chapter_slug, QuizAnswer.question_id)
    )
    return session.execute(
        select(
            member_learners.c.account_id,
            QuizAnswer.chapter_slug,
            QuizAnswer.question_id,
            QuizAnswer.option_id,
            QuizAnswer.correct,
        )
        .join(member_learners, member_learners.c.id == QuizAnswer.learner_id)
        .where(QuizAnswer.id.in_(chosen))
    ).all()


def build_dashboard(factory: sessionmaker[Session], course: Course, cohort: Cohort) -> Dashboard:
    member_learners = (
        select(Learner.id, Learner.account_id)
        .join(CohortMember, CohortMember.user_id == Learner.account_id)
        .where(CohortMember.cohort_id == cohort.id)
        .subquery()
    )
    with reading(factory) as session:
        members = session.execute(
            select(User.id, User.display_name, User.email, CohortMember.joined_at)
            .join(CohortMember, CohortMember.user_id == User.id)
            .where(CohortMember.cohort_id == cohort.id)
            .order_by(func.lower(User.display_name), User.id)
        ).all()
        last_seen = session.execute(
            select(Learner.account_id, func.max(Learner.last_seen_at))
            .join(CohortMember, CohortMember.user_id == Learner.account_id)
            .where(CohortMember.cohort_id == cohort.id)
            .group_by(Learner.account_id)
        ).all()
        opened = session.execute(
            select(member_learners.c.account_id, ChapterVisit.chapter_slug)
            .join(member_learners, member_learners.c.id == ChapterVisit.learner_id)
            .distinct()
        ).all()
        latest = _answers(session, member_learners, func.max)
        first = _answers(session, member_learners, func.min)
        attempts = attempt_counts(session, member_learners)
        capstone = cohort_capstone(session, course.capstone.meta, member_learners) if course.capstone else {}

    rows = {uid: LearnerRow(uid, name, email, as_utc(joined)) for uid, name, email, joined in members}
    for uid, seen in last_seen:
        rows[uid].last_active_at = as_utc(seen)
    opened_by = {(uid, slug) for uid, slug in opened}
    scores: Counter = Counter()
    for uid, slug, _question, _option, correct in latest:
        scores[(uid, slug, "answered")] += 1
        scores[(uid, slug, "correct")] += bool(correct)
    for row in rows.values():
        for chapter in course.chapters:
            key = (row.user_id, chapter.slug)
            row.chapters[chapter.slug] = ChapterProgress(
                key in opened_by, scores[(*key, "answered")], scores[(*key, "correct")]
            )
    exercise_stats = _exercise_scores(course, rows, attempts)
    for uid, status in capstone.items():
        if uid in rows:
            rows[uid].capstone = status
    return Dashboard(
        cohort,
        course.chapters,
        list(rows.values()),
        _question_stats(course, latest, first),
        exercise_stats,
        course.capstone.meta if course.capstone else None,
    )


def _exercise_scores(course: Course, rows: dict[int, LearnerRow], attempts: list[tuple]) -> list[ExerciseStats]:
    """Fill each learner's exercise scores per chapter; return the cohort's figures per exercise.

    Only exercises the course still has count, so a renamed exercise does not inflate a score."""
    known = {(c.slug, e.id) for c in course.chapters for e in c.meta.exercises}
    per_learner: dict[tuple[int, str], list[int]] = {}
    per_exercise: dict[tuple[str, str], list[int]] = {}
    for uid, slug, exercise_id, count, correct in attempts:
        if (slug, exercise_id) not in known or uid not in rows:
            continue
        solved = int(bool(correct))
        for key, bucket in (((uid, slug), per_learner), ((slug, exercise_id), per_exercise)):
            totals = bucket.setdefault(key, [0, 0, 0])
            totals[0] += solved
            totals[1] += 1
            totals[2] += count
    for row in rows.values():
        for chapter in course.chapters:
            row.exercises[chapter.slug] = ExerciseScore(*per_learner.get((row.user_id, chapter.slug), (0, 0, 0)))
    stats = []
    for chapter in course.chapters:
        for exercise in chapter.meta.exercises:
            solved, tried, count = per_exercise.get((chapter.slug, exercise.id), (0, 0, 0))
            stats.append(ExerciseStats(chapter, exercise.id, tried, solved, count))
    return stats


def _question_stats(course: Course, latest: list[tuple], first: list[tuple]) -> list[QuestionStats]:
    now_correct: Counter = Counter()
    answered: Counter = Counter()
    first_correct: Counter = Counter()
    first_wrong: dict[tuple[str, str], Counter] = {}
    for _uid, slug, question, _option, correct in latest:
        answered[(slug, question)] += 1
        now_correct[(slug, question)] += bool(correct)
    for _uid, slug, question, option, correct in first:
        if correct:
            first_correct[(slug, question)] += 1
        else:
            first_wrong.setdefault((slug, question), Counter())[option] += 1
    stats = []
    for chapter in course.chapters:
        for question in chapter.meta.quiz:
            key = (chapter.slug, question.id)
            top_wrong = None
            if first_wrong.get(key):
                # Ties go to the option listed first, so the answer is stable from one view to the next.
                order = {o.id: i for i, o in enumerate(question.options)}
                option_id, count = min(first_wrong[key].items(), key=lambda item: (-item[1], order.get(item[0], 99)))
                option = question.option(option_id)
                top_wrong = WrongOption(option_id, option.text if option else option_id, count)
            stats.append(
                QuestionStats(chapter, question, answered[key], now_correct[key], first_correct[key], top_wrong)
            )
    return stats


def seconds_since(moment: datetime | None, now: datetime | None = None) -> int | None:
    if moment is None:
        return None
    return max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))


def time_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """"never", "just now", "5 min ago", "3 h ago", "2 days ago"."""
    seconds = seconds_since(moment, now)
    if seconds is None:
        return "never"
    for unit, size in (("days", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {'day' if unit == 'days' and count == 1 else unit} ago"
    return "just now"


def dashboard_json(dashboard: Dashboard, join_code: str) -> dict:
    now = datetime.now(UTC)
    return {
        "cohort": {
            "id": dashboard.cohort.id,
            "name": dashboard.cohort.name,
            "starts_on": dashboard.cohort.starts_on.isoformat() if dashboard.cohort.starts_on else None,
            "join_code": join_code,
            "learner_count": len(dashboard.learners),
        },
        "chapters": [
            {"slug": c.slug, "number": c.number, "title": c.title, "quiz_count": len(c.meta.quiz),
             "exercise_count": len(c.meta.exercises)}
            for c in dashboard.chapters
        ],
        "learners": [
            {
                "id": row.user_id,
                "display_name": row.display_name,
                "email": row.email,
                "joined_at": row.joined_at.isoformat(),
                "last_active_at": row.last_active_at.isoformat() if row.last_active_at else None,
                "seconds_since_active": seconds_since(row.last_active_at, now),
                "chapters": {
                    slug: {"opened": p.opened, "answered": p.answered, "correct": p.correct}
                    for slug, p in row.chapters.items()
                },
                "exercises": {
                    slug: {"solved": x.solved, "tried": x.tried, "attempts": x.attempts}
                    for slug, x in row.exercises.items()
                },
                "capstone": _capstone_json(dashboard.capstone, row.capstone),
            }
            for row in dashboard.learners
        ],
        "exercises": [
            {"chapter": x.chapter.slug, "exercise_id": x.exercise_id, "tried": x.tried, "solved": x.solved,
             "attempts": x.attempts}
            for x in dashboard.exercises
        ],
        "questions": [
            {
                "chapter": s.chapter.slug,
                "question_id": s.question.id,
                "prompt": s.question.prompt,
                "answered": s.answered,
                "correct": s.correct,
                "correct_rate": round(s.correct / s.answered, 3) if s.answered else None,
                "first_try_correct": s.first_try_correct,
                "top_wrong_option": (
                    {"id": s.top_wrong.option_id, "text": s.top_wrong.text, "learners": s.top_wrong.learners}
                    if s.top_wrong
                    else None
                ),
            }
            for s in dashboard.questions
        ],
    }


def spreadsheet_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: a learner could name themselves
    # "=HYPERLINK(...)". A leading apostrophe keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _capstone_json(capstone: CapstoneMatter | None, status: CapstoneStatus) -> dict | None:
    """`{done, total, items_done, detected}` for one learner; None when the course has no capstone."""
    if capstone is None:
        return None
    items = capstone.items
    return {
        "done": status.done_count(capstone),
        "total": len(items),
        "items_done": [i.id for i in items if status.done(i.id)],
        "detected": [i.id for i in items if i.id in status.detected],
    }


def dashboard_csv(dashboard: Dashboard, table: str = "learners") -> str:
    """The learners × chapters matrix (table="learners"), the per-question statistics ("questions") or
    the per-exercise ones ("exercises")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if table == "exercises":
        writer.writerow(["chapter", "exercise_id", "learners_tried", "learners_solved", "answers_sent"])
        for x in dashboard.exercises:
            writer.writerow([spreadsheet_cell(v) for v in (x.chapter.slug, x.exercise_id, x.tried, x.solved, x.attempts)])
        return out.getvalue()
    if table == "questions":
        writer.writerow(
            ["chapter", "question_id", "question", "answered", "correct_now", "first_try_correct",
             "most_chosen_wrong_option", "learners_choosing_it"]
        )
        for s in dashboard.questions:
            wrong = s.top_wrong
            writer.writerow(
                [spreadsheet_cell(v) for v in (s.chapter.slug, s.question.id, s.question.prompt, s.answered, s.correct,
                                    s.first_try_correct, wrong.text if wrong else "", wrong.learners if wrong else 0)]
            )
        return out.getvalue()
    header = ["learner", "email", "joined_at", "last_active_at"]
    for chapter in dashboard.chapters:
        header += [f"ch{chapter.number}_opened", f"ch{chapter.number}_quiz_correct", f"ch{chapter.number}_quiz_total"]
    header += _exercise_header(dashboard)
    capstone = dashboard.capstone
    if capstone:
        header += ["capstone_done", "capstone_total"]
    writer.writerow(header)
    for row in dashboard.learners:
        cells = [row.display_name, row.email, row.joined_at.isoformat(),
                 row.last_active_at.isoformat() if row.last_active_at else ""]
        for chapter in dashboard.chapters:
            p = row.chapters[chapter.slug]
            cells += ["yes" if p.opened else "no", p.correct, len(chapter.meta.quiz)]
        cells += _exercise_cells(dashboard, row)
        if capstone:
            cells += [row.capstone.done_count(capstone), len(capstone.items)]
        writer.writerow([spreadsheet_cell(c) for c in cells])
    return out.getvalue()


def _exercise_header(dashboard: Dashboard) -> list[str]:
    """The learners CSV's exercise columns, after the quiz ones: solved and total per chapter."""
    header = []
    for chapter in dashboard.chapters:
        header += [f"ch{chapter.number}_exercises_solved", f"ch{chapter.number}_exercises_total"]
    return header


def _exercise_cells(dashboard: Dashboard, row: LearnerRow) -> list[object]:
    cells: list[object] = []
    for chapter in dashboard.chapters:
        cells += [row.exercises[chapter.slug].solved, len(chapter.meta.exercises)]
    return cells
