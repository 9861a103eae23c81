"""The database layer: idempotent migrations, and SQLite that loses no concurrent write."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import inspect, select

from app.db import create_db_engine, make_session_factory, migrate
from app.models import ChapterVisit
from app.progress import record_visit


def test_migrating_twice_is_harmless_and_creates_the_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'course.db'}"
    migrate(url)
    migrate(url)
    tables = set(inspect(create_db_engine(url)).get_table_names())
    assert {"learners", "chapter_visits", "quiz_answers", "alembic_version"} <= tables


def test_sqlite_loses_no_update_under_concurrent_read_modify_write(tmp_path):
    # 50 workers x 20 visits each read the counter, add one and write it back. Without WAL,
    # a busy timeout and BEGIN IMMEDIATE, most of these updates are lost silently.
    url = f"sqlite:///{tmp_path / 'course.db'}"
    migrate(url)
    sessions = make_session_factory(create_db_engine(url))
    record_visit(sessions, "00000000-0000-0000-0000-000000000001", "warm-up")

    def twenty_visits(_):
        for _ in range(20):
            record_visit(sessions, "00000000-0000-0000-0000-000000000001", "concurrency")

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(twenty_visits, range(50)))

    with sessions() as session:
        visit = session.scalar(select(ChapterVisit).where(ChapterVisit.chapter_slug == "concurrency"))
    assert visit.visits == 1000


def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
