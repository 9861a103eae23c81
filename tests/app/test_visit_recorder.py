"""Chapter visits: the first view is written at once, later views are counted off the request path and
none is lost, also when many threads view at once and when the server stops."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from app.db import create_db_engine, make_session_factory, migrate, reading
from app.models import ChapterVisit
from app.visit_recorder import VisitRecorder


def _visits(sessions, learner: str) -> dict[str, int]:
    with reading(sessions) as session:
        rows = session.execute(select(ChapterVisit.chapter_slug, ChapterVisit.visits).where(ChapterVisit.learner_id == learner))
        return dict(rows.all())


def _sessions(url: str):
    migrate(url)
    return make_session_factory(create_db_engine(url))


def test_the_first_view_is_in_the_database_before_record_returns_and_repeats_wait_for_a_flush(empty_database_url):
    sessions = _sessions(empty_database_url)
    recorder = VisitRecorder(sessions, flush_interval_s=3600)
    learner = str(uuid.uuid4())
    recorder.record(learner, "intro")
    assert _visits(sessions, learner) == {"intro": 1}
    recorder.record(learner, "intro")
    recorder.record(learner, "intro")
    assert _visits(sessions, learner) == {"intro": 1}  # no write on the request path for a repeat view
    recorder.flush()
    assert _visits(sessions, learner) == {"intro": 3}
    recorder.stop()


def test_every_view_is_counted_under_concurrency_and_stop_writes_what_is_pending(empty_database_url):
    sessions = _sessions(empty_database_url)
    recorder = VisitRecorder(sessions, flush_interval_s=0.01)
    learners = [str(uuid.uuid4()) for _ in range(5)]

    def views(n):
        for i in range(40):
            recorder.record(learners[(n + i) % 5], f"chapter-{i % 3}")

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(views, range(10)))
    recorder.stop()
    total = sum(sum(_visits(sessions, learner).values()) for learner in learners)
    assert total == 400


def test_a_second_process_counts_its_first_view_too(empty_database_url):
    # Two workers each write their first view of the same pair; the count is still exact.
    sessions = _sessions(empty_database_url)
    first, second = VisitRecorder(sessions), VisitRecorder(sessions)
    learner = str(uuid.uuid4())
    first.record(learner, "intro")
    second.record(learner, "intro")
    second.record(learner, "intro")
    first.stop()
    second.stop()
    assert _visits(sessions, learner) == {"intro": 3}


def test_a_first_view_waiting_on_a_flush_of_the_same_new_learner_finishes_and_counts(empty_database_url):
    """A flush's transaction makes the learner's row, then adds the visit; a first view of the same new learner
    comes in between. On PostgreSQL the first view's single statement used to lock its visit row before its
    learner row (a WITH's parts run in no set order), and the two deadlocked, every time in this order."""
    import threading
    import time

    from sqlalchemy import text

    from app.models import utcnow
    from app.progress import ensure_learner, record_visit

    sessions = _sessions(empty_database_url)
    learner, failures = str(uuid.uuid4()), []

    def first_view():
        try:
            record_visit(sessions, learner, "intro")
        except Exception as exc:  # noqa: BLE001 -- the assertion below names it
            failures.append(exc)

    with sessions() as flush:
        ensure_learner(flush, learner)
        view = threading.Thread(target=first_view)
        view.start()
        time.sleep(0.5)  # the first view now waits on the flush's new learner row
        flush.execute(text("INSERT INTO chapter_visits (learner_id, chapter_slug, first_opened_at, last_opened_at,"
                           " visits) VALUES (:learner, 'intro', :now, :now, 1) ON CONFLICT (learner_id, chapter_slug)"
                           " DO UPDATE SET visits = chapter_visits.visits + excluded.visits"),
                      {"learner": learner, "now": utcnow()})
        flush.commit()
    view.join(timeout=30)
    assert not view.is_alive() and failures == []
    assert _visits(sessions, learner) == {"intro": 2}
