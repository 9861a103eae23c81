"""Database engine, sessions and migrations (SQLAlchemy 2, Alembic).

SQLite is made safe for concurrent writers here, in one place: WAL journal, a busy timeout and
`BEGIN IMMEDIATE` transactions. Without them, concurrent read-modify-write loses updates silently.
On PostgreSQL every round trip costs CPU in both processes on the same cores, so the reads and writes of
every click take one each (see `read_rows`, `write_rows`, `_ping_after_idle`).
"""

from collections.abc import Callable, Collection, Iterator, Sequence
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Each SQLite connection keeps its own page cache, 2 MB by SQLite's default, and fills it as the database grows
# (every visit and quiz answer adds rows): in the soak the pool's caches grew from 1.1 to 4.7 MB over 14 minutes
# and would go on to ~2 MB a pooled connection. The OS keeps the file's pages cached anyway; a page read from
# there costs a system call (~1 µs). 512 KiB holds the hot index pages of a busy class (benchmarks/soak).
SQLITE_CACHE_KIB = 512
READ_ONLY = "course_read_only"  # execution option set by `reading()`
# A pooled PostgreSQL connection idle longer than this is pinged before use (a server restart, a proxy's idle
# timeout); one in steady use is not: pinging every checkout was a quarter of a quiz answer's round trips.
IDLE_PING_S = 10.0
_IDLE_SINCE = "course_idle_since"  # key in a pooled connection's `info`


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite engines get WAL, a busy timeout and immediate transactions."""
    if not url.startswith("sqlite"):
        # Up to 40 connections, as many as FastAPI's thread pool has threads, so under load a request
        # never holds a thread while it waits for a connection.
        engine = create_engine(url, pool_size=10, max_overflow=30)
        _ping_after_idle(engine)
        return engine

    # 10 kept, as on PostgreSQL: with SQLAlchemy's default (5 kept, 10 more opened and closed on demand) 16
    # concurrent page views opened a connection, and ran its PRAGMAs, on many of their reads. Chapter views now
    # use at most 4 at once (app.chapter_page), the visit flusher and the scheduler one each. Each kept
    # connection may hold up to 2 MB of page cache, so the pool is not sized for all 40 request threads.
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=10,
        max_overflow=30,
    )

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")  # negative: KiB, not pages
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if connection.get_execution_options().get(READ_ONLY):
            # A session opened with `reading()`: a deferred BEGIN reads a WAL snapshot and takes no lock,
            # so reads never queue behind each other or behind writers.
            connection.exec_driver_sql("BEGIN")
            return
        # Take the write lock at the start, so two read-modify-write transactions serialise
        # instead of one failing (or silently overwriting) at commit time.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _ping_after_idle(engine: Engine) -> None:
    """`pool_pre_ping`, but only for a connection that sat in the pool longer than IDLE_PING_S: one that fails is
    replaced before anyone uses it (SQLAlchemy retries a checkout refused with DisconnectionError). A connection
    the server dropped while in use is discarded by `_discard_if_broken` (bare reads and writes) or by
    SQLAlchemy's own disconnect handling (sessions)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        if getattr(dbapi_connection, "closed", False):
            raise DisconnectionError("the connection was closed while in the pool")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since > IDLE_PING_S:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as exc:
                raise DisconnectionError(f"the connection failed its ping: {exc}") from exc


def _as_sqlalchemy_error(engine: Engine, sql: str | None, params: Sequence | None, error: Exception) -> DBAPIError:
    """A driver's error from a bare statement as SQLAlchemy's class for it (IntegrityError, OperationalError, …),
    the class the ORM's statements raise: so a caller catches one family (`SQLAlchemyError`) whichever way the
    statement went and whichever driver ran it (a page header that survives a database outage relies on it)."""
    return DBAPIError.instance(sql, params, error, engine.dialect.loaded_dbapi.Error, dialect=engine.dialect)


def _discard_if_broken(engine: Engine, connection: PoolProxiedConnection) -> bool:
    """When the driver reports this connection closed (the server went away mid-use): discard it and have every
    connection opened before it reopened at its next checkout, as SQLAlchemy does on a disconnect it sees
    itself (`Pool._invalidate`), so a database restart costs one failed statement, not one per pooled
    connection. Whether it was broken."""
    if getattr(connection.driver_connection, "closed", False):
        engine.pool._invalidate(connection)
        return True
    return False


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only. Every other session starts with SQLite's write lock (`BEGIN IMMEDIATE`), which
    also makes concurrent reads wait their turn in the busy handler: 16 concurrent /healthz requests saw a p99 of
    550 ms that way. PostgreSQL ignores the option."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session


def read_rows(factory: sessionmaker[Session], sql: str, params: Sequence) -> list[tuple]:
    """Rows of one SELECT run on the pool's bare DBAPI connection: for the reads of every page view. No
    SQLAlchemy statement machinery and no explicit BEGIN/ROLLBACK around it: about 70 µs where a Core read on
    a connection takes 800, and one round trip on PostgreSQL (autocommit) where a transaction takes three. One
    statement reads one consistent snapshot on its own. `sql` marks parameters with `?`; PostgreSQL's driver
    gets `%s`. A read on a connection the server dropped is tried once more on a new one."""
    return _one_statement(factory.kw["bind"], sql, params, fetch=True, attempts=2)


def _one_statement(engine: Engine, sql: str, params: Sequence, fetch: bool, attempts: int = 1) -> list[tuple]:
    """One statement on its own on a pooled bare connection, in autocommit: psycopg would send a BEGIN first and
    the pool a ROLLBACK after (two round trips for nothing on PostgreSQL), and a statement alone is atomic.
    With `attempts` > 1, a statement whose connection the server had dropped is tried again on a new one."""
    sqlite_db = engine.dialect.paramstyle == "qmark"
    if not sqlite_db:
        sql = _driver_sql(sql)
    for attempt in range(1, attempts + 1):
        connection = engine.raw_connection()
        driver = connection.driver_connection
        try:
            if not sqlite_db:
                driver.autocommit = True
            cursor = connection.cursor()
            try:
                cursor.execute(sql, tuple(params))
                return cursor.fetchall() if fetch else []
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            if not _discard_if_broken(engine, connection) or attempt == attempts:
                raise _as_sqlalchemy_error(engine, sql, params, error) from error
        finally:
            if not sqlite_db and not driver.closed:
                driver.autocommit = False  # as SQLAlchemy's sessions expect their connections
            connection.close()  # back to the pool (SQLite: rolled back; PostgreSQL: idle already)
    raise AssertionError("unreachable")


def owns_any(factory: sessionmaker[Session], table: str, learner_ids: Collection[str]) -> bool:
    """Whether `table` has a row of any of these learners: one bare read (~70 µs) that lets a chapter page skip
    an ORM query (~2 ms of CPU) for the many learners who have no runs, sweeps or keys yet."""
    if not learner_ids:
        return False
    ids = list(learner_ids)
    return bool(read_rows(factory, f"SELECT 1 FROM {table} WHERE learner_id IN ({marks(ids)}) LIMIT 1", ids))


@contextmanager
def bare_transaction(factory: sessionmaker[Session]) -> Iterator[Callable[[str, Sequence], list[tuple]]]:
    """One transaction on the pool's bare DBAPI connection, for a browser's claim by its account: the ORM's
    statement building cost ~5 ms of CPU per such write. Yields `run(sql, params) -> rows` (`?` marks). On
    SQLite the transaction takes the write lock at once (BEGIN IMMEDIATE), as `transaction()` does; on
    PostgreSQL the driver begins one. Committed when the block ends, rolled back on any error. Datetime
    parameters must come through `db_time`."""
    engine = factory.kw["bind"]
    sqlite_db = engine.dialect.paramstyle == "qmark"
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()

        def run(sql: str, params: Sequence = ()) -> list[tuple]:
            cursor.execute(sql if sqlite_db else _driver_sql(sql), tuple(params))
            return cursor.fetchall() if cursor.description else []

        try:
            if sqlite_db:
                cursor.execute("BEGIN IMMEDIATE")
            yield run
            connection.commit()
        except engine.dialect.loaded_dbapi.Error as error:
            _rollback(engine, connection)
            raise _as_sqlalchemy_error(engine, None, None, error) from error
        except BaseException:
            _rollback(engine, connection)
            raise
        finally:
            cursor.close()
    finally:
        connection.close()


def write_rows(factory: sessionmaker[Session], statements: Sequence[tuple[str, Sequence]]) -> None:
    """INSERT/UPDATE statements ((sql, params)) in one transaction, for the writes of every click (a visit, a
    quiz answer). One statement alone runs in autocommit on PostgreSQL: one round trip where BEGIN and COMMIT
    make it three (see `progress`, which makes a click's write one statement there). Datetime parameters must
    come through `db_time`."""
    engine = factory.kw["bind"]
    if len(statements) == 1 and not on_sqlite(factory):
        (sql, params), = statements
        _one_statement(engine, sql, params, fetch=False)
        return
    with bare_transaction(factory) as run:
        for sql, params in statements:
            run(sql, params)


def on_sqlite(factory: sessionmaker[Session]) -> bool:
    """Whether the sessions of `factory` write to SQLite (else PostgreSQL), for SQL only one of them speaks."""
    return factory.kw["bind"].dialect.paramstyle == "qmark"


def _rollback(engine: Engine, connection: PoolProxiedConnection) -> None:
    """Roll back after a failed transaction; a connection the server dropped is discarded instead."""
    if not _discard_if_broken(engine, connection):
        connection.rollback()


def db_time(factory: sessionmaker[Session], value):
    """`value` (a datetime) as the database's driver takes it for a DateTime(timezone=True) column in
    `write_rows`: the text SQLAlchemy itself stores on SQLite, the datetime as it is on PostgreSQL."""
    return _time_binder(factory.kw["bind"].dialect)(value)


@cache
def _time_binder(dialect):
    return DateTime(timezone=True).bind_processor(dialect) or (lambda value: value)


def marks(values: Collection) -> str:
    """`?, ?, ?`: one parameter mark per value, for `IN (…)` in `read_rows` SQL (never an empty list)."""
    if not values:
        raise ValueError("IN () needs at least one value")
    return ", ".join("?" * len(values))


@cache
def _driver_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def insert_for(session: Session, table) -> Insert:
    """An INSERT with this dialect's `on_conflict_do_*` methods (SQLite and PostgreSQL spell them alike).

    Upserts make "create the row or bump it" one atomic statement on both databases; PostgreSQL's
    default isolation would otherwise let two concurrent read-modify-writes lose an update.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def migrate(url: str) -> None:
    """Bring the database at `url` to the latest migration (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
