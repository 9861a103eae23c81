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

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.capstone.schema import CapstoneMatter
from app.capstone.service import NOTHING, CapstoneStatus, cohort_capstone
from app.content import Chapter, Course, Question
from app.db import reading
from app.errors import AppError
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

    def capstone_done(self, items) -> list:
        """Those of `items` (a capstone stage's) this learner has done, ticked or detected."""
        return [item for item in items if self.capstone.done(item.id)]


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
    learner_count: int = 0  # the cohort's learners; `learners` holds one page of them when `page` is set
    page: "Page | None" = None


PAGE_SIZE = 50  # learners per page of the dashboard's tables: 1,000 rows were 3.9 MB of HTML and 0.3 s of CPU
# How the learner tables may be sorted (the `sort` query parameter): name A-Z, most or least recently active.
SORTS = {"name": "name", "recent": "most recently active", "idle": "least recently active"}


@dataclass(frozen=True)
class Page:
    """Which learners the tables show: page `number` (from 1) of `count`, `size` each, in `sort` order."""

    number: int
    count: int
    size: int
    sort: str
    first: int  # the position (from 1) of the page's first learner; 0 when the cohort has none
    last: int


def parse_page(page: str, sort: str) -> tuple[int, str]:
    """The page number and sort from a dashboard URL; a bad value is a 422 naming the parameter."""
    if sort not in SORTS:
        raise AppError(422, f"sort: use one of {', '.join(SORTS)}.")
    # ASCII digits only, length first: "²" passes str.isdigit() yet int() refuses it, as it refuses 4,300+ digits
    if len(page) > 9 or not (page.isascii() and page.isdigit()) or int(page) < 1:
        raise AppError(422, "page: use a page number from 1.")
    return int(page), sort


def _member_learners(cohort: Cohort, account_ids: list[int] | None = None):
    """(learner id, account id) of the cohort's members' browsers; only `account_ids`' when given."""
    query = select(Learner.id, Learner.account_id)
    if account_ids is None:
        query = query.join(CohortMember, CohortMember.user_id == Learner.account_id).where(
            CohortMember.cohort_id == cohort.id
        )
    else:
        query = query.where(Learner.account_id.in_(account_ids))
    return query.subquery()


def _chosen_answers(member_learners, pick):
    """The ids of each account's first (pick=min) or latest (max) answer to each question."""
    return (
        select(pick(QuizAnswer.id))
        .join(member_learners, member_learners.c.id == QuizAnswer.learner_id)
        .group_by(member_learners.c.account_id, QuizAnswer.chapter_slug, QuizAnswer.question_id)
    )


def _correct_count():
    return func.sum(case((QuizAnswer.correct, 1), else_=0))


def _members(session: Session, cohort: Cohort, sort: str, page: tuple[int, int] | None) -> list[tuple]:
    """(account id, name, email, joined, last seen) of the cohort's members in `sort` order; one page of
    them when `page` is (number, size)."""
    last_seen = (
        select(Learner.account_id, func.max(Learner.last_seen_at).label("seen"))
        .join(CohortMember, CohortMember.user_id == Learner.account_id)
        .where(CohortMember.cohort_id == cohort.id)
        .group_by(Learner.account_id)
        .subquery()
    )
    by_name = (func.lower(User.display_name), User.id)
    order = {
        "name": by_name,
        "recent": (last_seen.c.seen.desc().nulls_last(), *by_name),
        "idle": (last_seen.c.seen.asc().nulls_first(), *by_name),
    }[sort]
    query = (
        select(User.id, User.display_name, User.email, CohortMember.joined_at, last_seen.c.seen)
        .join(CohortMember, CohortMember.user_id == User.id)
        .outerjoin(last_seen, last_seen.c.account_id == User.id)
        .where(CohortMember.cohort_id == cohort.id)
        .order_by(*order)
    )
    if page is not None:
        number, size = page
        query = query.limit(size).offset((number - 1) * size)
    return session.execute(query).all()


def build_dashboard(
    factory: sessionmaker[Session], course: Course, cohort: Cohort, page: int | None = None, sort: str = "name"
) -> Dashboard:
    """The dashboard; with `page`, the learner rows are that page of PAGE_SIZE in `sort` order (the cohort's
    figures still count every learner). The totals are aggregated in SQL; Python sees one row per learner
    shown and chapter, and one per question and option."""
    everyone = _member_learners(cohort)
    with reading(factory) as session:
        total = session.scalar(
            select(func.count()).select_from(CohortMember).where(CohortMember.cohort_id == cohort.id)
        )
        shown_page = None
        if page is not None:
            count = max(1, -(-total // PAGE_SIZE))
            number = min(page, count)
            first = (number - 1) * PAGE_SIZE
            shown_page = Page(number, count, PAGE_SIZE, sort, first + 1 if total else 0, min(total, first + PAGE_SIZE))
        members = _members(session, cohort, sort, (shown_page.number, PAGE_SIZE) if shown_page else None)
        shown = everyone if page is None else _member_learners(cohort, [m[0] for m in members])
        opened = session.execute(
            select(shown.c.account_id, ChapterVisit.chapter_slug)
            .join(shown, shown.c.id == ChapterVisit.learner_id)
            .distinct()
        ).all()
        learner_scores = session.execute(
            select(shown.c.account_id, QuizAnswer.chapter_slug, func.count(), _correct_count())
            .join(shown, shown.c.id == QuizAnswer.learner_id)
            .where(QuizAnswer.id.in_(_chosen_answers(shown, func.max)))
            .group_by(shown.c.account_id, QuizAnswer.chapter_slug)
        ).all()
        latest = session.execute(
            select(QuizAnswer.chapter_slug, QuizAnswer.question_id, func.count(), _correct_count())
            .where(QuizAnswer.id.in_(_chosen_answers(everyone, func.max)))
            .group_by(QuizAnswer.chapter_slug, QuizAnswer.question_id)
        ).all()
        first_tries = session.execute(
            select(QuizAnswer.chapter_slug, QuizAnswer.question_id, QuizAnswer.option_id, QuizAnswer.correct,
                   func.count())
            .where(QuizAnswer.id.in_(_chosen_answers(everyone, func.min)))
            .group_by(QuizAnswer.chapter_slug, QuizAnswer.question_id, QuizAnswer.option_id, QuizAnswer.correct)
        ).all()
        attempts = attempt_counts(session, everyone)
        capstone = cohort_capstone(session, course.capstone.meta, shown) if course.capstone else {}

    rows = {
        uid: LearnerRow(uid, name, email, as_utc(joined), as_utc(seen)) for uid, name, email, joined, seen in members
    }
    opened_by = {(uid, slug) for uid, slug in opened}
    scores = {(uid, slug): (answered, int(correct or 0)) for uid, slug, answered, correct in learner_scores}
    for row in rows.values():
        for chapter in course.chapters:
            key = (row.user_id, chapter.slug)
            row.chapters[chapter.slug] = ChapterProgress(key in opened_by, *scores.get(key, (0, 0)))
    exercise_stats = _exercise_scores(course, rows, attempts)
    for uid, status in capstone.items():
        if uid in rows:
            rows[uid].capstone = status
    return Dashboard(
        cohort,
        course.chapters,
        list(rows.values()),
        _question_stats(course, latest, first_tries),
        exercise_stats,
        course.capstone.meta if course.capstone else None,
        learner_count=total,
        page=shown_page,
    )


def _exercise_scores(course: Course, rows: dict[int, LearnerRow], attempts: list[tuple]) -> list[ExerciseStats]:
    """Fill the exercise scores per chapter of the learners in `rows`; return the cohort's figures per exercise
    (from every learner's `attempts`).

    Only exercises the course still has count, so a renamed exercise does not inflate a score."""
    known = {(c.slug, e.id) for c in course.chapters for e in c.meta.exercises}
    per_learner: dict[tuple[int, str], list[int]] = {}
    per_exercise: dict[tuple[str, str], list[int]] = {}
    for uid, slug, exercise_id, count, correct in attempts:
        if (slug, exercise_id) not in known:
            continue
        solved = int(bool(correct))
        buckets = [((slug, exercise_id), per_exercise)] + ([((uid, slug), per_learner)] if uid in rows else [])
        for key, bucket in buckets:
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


def _question_stats(course: Course, latest: list[tuple], first_tries: list[tuple]) -> list[QuestionStats]:
    """Per question, from (chapter, question, answered, correct) of the latest answers and (chapter, question,
    option, correct, learners) of the first tries."""
    answered = {(slug, question): count for slug, question, count, _correct in latest}
    now_correct = {(slug, question): int(correct or 0) for slug, question, _count, correct in latest}
    first_correct: Counter = Counter()
    first_wrong: dict[tuple[str, str], Counter] = {}
    for slug, question, option, correct, count in first_tries:
        if correct:
            first_correct[(slug, question)] += count
        else:
            first_wrong.setdefault((slug, question), Counter())[option] += count
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
                QuestionStats(chapter, question, answered.get(key, 0), now_correct.get(key, 0), first_correct[key],
                              top_wrong)
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
            "learner_count": dashboard.learner_count,
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
