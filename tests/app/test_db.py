"""The database layer on SQLite and PostgreSQL: migrations that run, match the models and undo cleanly,
no lost write under concurrent read-modify-write, reads that never queue behind a writer, writes that are
all or nothing, and a pool that outlives the database dropping its connections."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app import db
from app.db import (
    MIGRATIONS_DIR,
    create_db_engine,
    make_session_factory,
    migrate,
    read_rows,
    reading,
    transaction,
    write_rows,
)
from app.models import Base, ChapterVisit, utcnow
from app.progress import record_answer, record_visit

TABLES = {"learners", "chapter_visits", "quiz_answers", "users", "cohorts", "cohort_members", "alembic_version"}


def test_migrating_twice_is_harmless_and_creates_the_tables(empty_database_url):
    migrate(empty_database_url)
    migrate(empty_database_url)
    assert TABLES <= set(inspect(create_db_engine(empty_database_url)).get_table_names())


def test_the_migrations_produce_exactly_the_models_tables(empty_database_url):
    migrate(empty_database_url)
    with create_db_engine(empty_database_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_accounts_migration_downgrades_and_upgrades_again(empty_database_url):
    migrate(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", empty_database_url.replace("%", "%%"))
    command.downgrade(config, "0001")
    engine = create_db_engine(empty_database_url)
    assert "users" not in inspect(engine).get_table_names()
    assert "account_id" not in {c["name"] for c in inspect(engine).get_columns("learners")}
    engine.dispose()
    migrate(empty_database_url)
    assert TABLES <= set(inspect(create_db_engine(empty_database_url)).get_table_names())


def test_no_update_is_lost_under_concurrent_read_modify_write(empty_database_url):
    # 50 workers x 20 visits each bump one counter. Without WAL, a busy timeout and BEGIN IMMEDIATE
    # (SQLite) or an atomic upsert (PostgreSQL), many of these updates are lost silently.
    migrate(empty_database_url)
    sessions = make_session_factory(create_db_engine(empty_database_url))
    learner = "00000000-0000-0000-0000-000000000001"
    record_visit(sessions, learner, "warm-up")

    def twenty_visits(_):
        for _ in range(20):
            record_visit(sessions, learner, "concurrency")

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(twenty_visits, range(50)))

    with sessions() as session:
        visit = session.scalar(select(ChapterVisit).where(ChapterVisit.chapter_slug == "concurrency"))
    assert visit.visits == 1000


def test_a_reading_session_does_not_wait_for_a_writer_and_sees_the_last_commit(empty_database_url):
    migrate(empty_database_url)
    sessions = make_session_factory(create_db_engine(empty_database_url))
    learner = "00000000-0000-0000-0000-000000000002"
    record_visit(sessions, learner, "read-me")
    count = select(ChapterVisit.visits).where(ChapterVisit.chapter_slug == "read-me")
    with transaction(sessions) as writer:  # holds SQLite's write lock (BEGIN IMMEDIATE) until the block ends
        writer.execute(ChapterVisit.__table__.update().values(visits=ChapterVisit.visits + 1))
        with ThreadPoolExecutor(max_workers=1) as pool:
            def read():
                with reading(sessions) as reader:
                    return reader.scalar(count)
            # A plain session would wait here for the writer (up to the 30 s busy timeout); a reader must not.
            assert pool.submit(read).result(timeout=5) == 1
    with reading(sessions) as reader:
        assert reader.scalar(count) == 2


def test_sqlite_connections_use_wal_a_busy_timeout_and_a_bounded_page_cache(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        # SQLite's default is -2000 (2 MB a connection, filled as the database grows)
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -db.SQLITE_CACHE_KIB == -512


def _terminate_other_connections(url: str) -> int:
    """Have the PostgreSQL server drop every connection to this database but the one asking (a restart)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        dropped = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND datname = current_database() AND backend_type = 'client backend'"
        ).scalar()
    engine.dispose()
    return dropped


def _busy_pool(sessions, connections: int) -> None:
    """Open `connections` pooled connections at once and return them to the pool."""
    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(lambda _: read_rows(sessions, "SELECT pg_sleep(0.05)", ()), range(connections)))


def test_after_the_database_drops_its_connections_a_read_and_a_write_still_succeed(postgres):
    url = postgres.create_database("dropped_connections")
    migrate(url)
    sessions = make_session_factory(create_db_engine(url))
    _busy_pool(sessions, 6)
    assert _terminate_other_connections(url) == 6
    # Used a moment ago, so not pinged: the read finds its connection dead, tries once more on a new one, and
    # has the pool reopen every connection older than that, so the write that follows gets a live one.
    assert read_rows(sessions, "SELECT count(*) FROM learners", ()) == [(0,)]
    record_visit(sessions, "00000000-0000-0000-0000-000000000003", "after-restart")
    with reading(sessions) as session:
        assert session.scalar(select(ChapterVisit.visits)) == 1


def test_a_connection_idle_longer_than_the_ping_interval_is_checked_before_use(postgres, monkeypatch):
    url = postgres.create_database("idle_connections")
    migrate(url)
    sessions = make_session_factory(create_db_engine(url))
    _busy_pool(sessions, 3)
    _terminate_other_connections(url)
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)
    # An ORM session has no retry of its own: only the ping at checkout keeps it from a dead connection.
    with transaction(sessions) as session:
        assert session.execute(select(1)).scalar() == 1


def test_a_clicks_write_is_all_or_nothing(empty_database_url):
    # On PostgreSQL the statements go in one pipeline: a failing second statement must undo the first.
    migrate(empty_database_url)
    sessions = make_session_factory(create_db_engine(empty_database_url))
    now = db.db_time(sessions, utcnow())
    learner = ("INSERT INTO learners (id, created_at, last_seen_at, content_version) VALUES (?, ?, ?, 0)",
               ("00000000-0000-0000-0000-000000000004", now, now))
    orphan = ("INSERT INTO quiz_answers (learner_id, chapter_slug, question_id, option_id, correct, answered_at)"
              " VALUES (?, 'c', 'q', 'o', ?, ?)", ("no-such-learner", True, now))
    with pytest.raises(IntegrityError):  # SQLAlchemy's class, as the ORM raises, whichever driver
        write_rows(sessions, [learner, orphan])
    assert read_rows(sessions, "SELECT count(*) FROM learners", ()) == [(0,)]
    write_rows(sessions, [learner])  # the connection is usable again
    assert read_rows(sessions, "SELECT count(*) FROM learners", ()) == [(1,)]


def test_a_bare_statements_driver_error_comes_as_sqlalchemys_class(empty_database_url):
    # read_rows and bare_transaction run on the DBAPI connection: what they raise must be the family the ORM raises
    # (callers catch SQLAlchemyError), with the driver's error kept as `orig`.
    sessions = make_session_factory(create_db_engine(empty_database_url))  # not migrated: no tables
    driver_error = sessions.kw["bind"].dialect.loaded_dbapi.Error
    with pytest.raises(SQLAlchemyError) as read:
        read_rows(sessions, "SELECT id FROM learners", ())
    assert isinstance(read.value.orig, driver_error) and "learners" in str(read.value)
    with pytest.raises(SQLAlchemyError) as write:
        write_rows(sessions, [("UPDATE learners SET content_version = 1", ()), ("UPDATE learners SET id = id", ())])
    assert isinstance(write.value.orig, driver_error)
    migrate(empty_database_url)
    assert read_rows(sessions, "SELECT count(*) FROM learners", ()) == [(0,)]  # the pool recovered


def test_concurrent_quiz_answers_of_new_learners_are_all_kept_with_their_learners(empty_database_url):
    # On PostgreSQL the learner's upsert and the answer are one statement (app.progress): none may be lost, and
    # two first answers of the same new learner at once must not collide on creating it.
    migrate(empty_database_url)
    sessions = make_session_factory(create_db_engine(empty_database_url))
    learners = [f"00000000-0000-0000-0000-00000000010{n}" for n in range(5)]

    def ten_answers(n: int) -> None:
        for k in range(10):
            record_answer(sessions, learners[(n + k) % 5], "chapter", f"q{k}", "a", k % 2 == 0)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(ten_answers, range(20)))
    assert read_rows(sessions, "SELECT count(*) FROM quiz_answers", ()) == [(200,)]
    assert read_rows(sessions, "SELECT count(*) FROM learners", ()) == [(5,)]
    assert read_rows(sessions, "SELECT count(*) FROM quiz_answers WHERE correct", ()) == [(100,)]
