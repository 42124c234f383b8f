"""Database connections and the unit of work.

SQLite (the embedded default) runs in WAL mode; write transactions start with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout instead of failing
late on a stale snapshot. PostgreSQL uses READ COMMITTED plus the optimistic revision
counter on ``process_instance``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

import engine.storage.refcache  # noqa: F401  (registers the reference-data generation bumps on every session)
from engine.storage import district
from engine.storage.schema_state import unusable_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_ANALYSIS_LIMIT = 1000  # rows sampled per index by ANALYZE (https://sqlite.org/lang_analyze.html#approx)
# A pooled PostgreSQL connection idle for longer than this is checked with a ping before use. One in
# steady use is not (a ping is a round trip on every request); if the server went away meanwhile, the
# first statement fails, the pool drops its connections, and the unit of work is tried once more.
PING_AFTER_IDLE_SECONDS = 2.0
_CHECKED_IN = "zjtx_checked_in"
_BEGIN = "zjtx_begin"
# PostgreSQL: the roles the application works as, so that row-level security applies (a superuser, as the login
# user of the test server is, would bypass it): a district's work as zjtx_app, whose policy admits the rows of the
# district the session's setting holds (migration 0031), work across districts as zjtx_city (before 0031: zjtx_app
# with the setting 0). What the connection was last set to is kept in its record.
APP_ROLE, CITY_ROLE = "zjtx_app", "zjtx_city"
_DISTRICT, _ROLES = "zjtx_district", "zjtx_roles"
_GRANTED = ("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s) "
            "AND coalesce(has_table_privilege(rolname, to_regclass('process_instance'), 'SELECT'), false)")

T = TypeVar("T")
log = logging.getLogger(__name__)


def _sqlite_engine(url, immediate: bool) -> Engine:
    database = url.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A Unit asks for no BEGIN at all for the read half of a step (see Unit.reading).
        statement = conn.info.pop(_BEGIN, None)
        if statement is None:
            statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        if statement:
            conn.exec_driver_sql(statement)

    return engine


def _server_engine(url, **pool) -> Engine:
    engine = create_engine(url, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        # Work as the application's roles once the migrations granted them this database's tables (before,
        # init-db runs as the login user anyway).
        with _outside_transaction(dbapi_connection) as cursor:
            cursor.execute(_GRANTED, (APP_ROLE, CITY_ROLE))
            record.info[_ROLES] = {row[0] for row in cursor.fetchall()}
        if APP_ROLE not in record.info[_ROLES]:
            log.warning("数据库角色 %s 尚未建立，行级安全未生效（请运行 zjtx init-db）", APP_ROLE)

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        # The session's role and zjtx.district follow the district of the unit of work (engine/storage/district.py).
        # Set only when they differ from what the connection holds, so steady work of one district pays no round
        # trip for them; set outside any transaction, so no rollback undoes them. Setting doubles as the liveness
        # check.
        wanted = str(district.current())
        last = record.info.get(_CHECKED_IN)
        try:
            if record.info.get(_DISTRICT) != wanted:
                record.info.pop(_DISTRICT, None)
                role = _role_for(wanted, record.info.get(_ROLES, set()))
                with _outside_transaction(dbapi_connection) as cursor:
                    if role is None:
                        cursor.execute("SELECT set_config('zjtx.district', %s, false)", (wanted,))
                    else:
                        cursor.execute("SELECT set_config('role', %s, false), set_config('zjtx.district', %s, false)",
                                       (role, wanted))
                record.info[_DISTRICT] = wanted
            elif last is None or time.monotonic() - last >= PING_AFTER_IDLE_SECONDS:
                engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces the connection and tries again
            raise DisconnectionError(str(exc)) from exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info[_CHECKED_IN] = time.monotonic()

    return engine


def _role_for(wanted: str, granted: set[str]) -> str | None:
    """The role for the district ``wanted`` (``"0"``: across districts), of the roles granted."""
    if wanted == str(district.ALL) and CITY_ROLE in granted:
        return CITY_ROLE
    return APP_ROLE if APP_ROLE in granted else None


def _share_disconnects(*engines: Engine) -> None:
    """A lost connection seen by one engine (the server restarted) empties the others' pools too, as SQLAlchemy
    empties the engine's own: their idle connections died with it."""
    for one in engines:
        others = [e for e in engines if e is not one]

        @event.listens_for(one, "handle_error")
        def _on_error(context, others=others):
            if context.is_disconnect:
                for other in others:
                    other.pool.dispose()


@contextmanager
def _outside_transaction(dbapi_connection):
    """A cursor whose statements take effect at once (psycopg: autocommit for their duration)."""
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            yield cursor
    finally:
        dbapi_connection.autocommit = False


def retry_on_disconnect(work: Callable[[], T]) -> T:
    """Run ``work``; if the database connection turned out to be dead (the server restarted), once more
    on a fresh one. Only for work that is all inside one transaction, which the failure rolled back."""
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return work()


class Database:
    """Owns the engines. ``write()`` is the unit of work for every state change."""

    def __init__(self, url: str):
        try:
            self.url = make_url(url)
            if self.url.get_backend_name() == "sqlite":
                self.engine = _sqlite_engine(self.url, immediate=False)
                self.write_engine = _sqlite_engine(self.url, immediate=True)
            else:
                self.engine = _server_engine(self.url)
                self.write_engine = self.engine
            # PostgreSQL: work across districts (sign-in and token lookups, the scheduler's probes, the city's
            # views) has connections of its own, which keep the city-wide setting, so that neither it nor a
            # district's work pays a round trip to switch a connection's setting back and forth.
            self.across_engine = self.engine if self.dialect == "sqlite" else _server_engine(self.url, pool_size=3)
        except (ArgumentError, NoSuchModuleError, ImportError, OSError) as exc:  # a wrong DATABASE_URL
            raise unusable_url(url, exc) from None
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._across = sessionmaker(self.across_engine, expire_on_commit=False)
        if self.across_engine is not self.engine:
            _share_disconnects(self.engine, self.across_engine)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @contextmanager
    def read(self):
        """A session for queries; rolled back at the end. Loaded objects stay readable afterwards."""
        with (self._across if district.current() == district.ALL else self._read)() as session:
            try:
                yield session
            finally:
                session.expunge_all()
                session.rollback()

    @contextmanager
    def write(self):
        """One transaction: committed if the block succeeds, rolled back otherwise."""
        with (self._across if district.current() == district.ALL else self._write)() as session, session.begin():
            yield session

    @contextmanager
    def unit(self):
        """One connection for one step of the service layer: ``reading()`` to compute in (no write lock
        while diagram code runs), then ``writing()`` to save (SQLite: BEGIN IMMEDIATE). Objects loaded
        while reading stay loaded and attached for the writing."""
        with self.write_engine.connect() as connection:
            unit = Unit(connection, self.dialect == "sqlite")
            try:
                yield unit
            finally:
                connection.info.pop(_BEGIN, None)
                unit.session.close()

    def lookup(self, query: Callable[[Connection], T]) -> T:
        """``query(connection)`` for one read outside any transaction (the API token check). PostgreSQL:
        autocommit, so no BEGIN/ROLLBACK round trips; SQLite: a plain connection, whose local BEGIN
        costs less than switching the driver's isolation level there and back."""
        engine = self.across_engine if district.current() == district.ALL else self.engine

        def run() -> T:
            with engine.connect() as conn:
                if self.dialect != "sqlite":
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                return query(conn)
        return retry_on_disconnect(run)

    @contextmanager
    def as_owner(self):
        """An autocommit connection as the login user, not the application's role: for maintenance (VACUUM and
        ANALYZE, which only a table's owner may run) by tools, never for the application's work."""
        owner = create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with owner.connect() as conn:
                yield conn
        finally:
            owner.dispose()

    def analyze(self) -> bool:
        """SQLite: gather the planner's statistics (``ANALYZE``, each index sampled, so a few milliseconds however
        large the database). Without them SQLite picks an index by the number of its equalities alone, and a
        unit's inbox counted its tasks through the unit's index even where the tab's own one holds a handful
        (8 ms → 0.3 ms at 100,000 tasks). PostgreSQL's autovacuum does this itself: False, nothing done."""
        if self.dialect != "sqlite":
            return False
        with self.write_engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
            raw.execute("ANALYZE")
        # A connection reads the statistics when it opens: the pools' idle ones give way to new ones (those in
        # use now are closed as they come back).
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
        return True

    def ping(self) -> None:
        """Raise if the database cannot be reached (health checks)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def session(self) -> Session:
        return self._write()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
        if self.across_engine is not self.engine:
            self.across_engine.dispose()


class Unit:
    """See :meth:`Database.unit`. The read half ends as a commit of nothing, which (unlike a rollback)
    leaves the loaded objects as they are: no expunging, no reloading."""

    def __init__(self, connection: Connection, sqlite: bool):
        self.connection = connection
        self.sqlite = sqlite
        self.session = Session(bind=connection, expire_on_commit=False)

    @contextmanager
    def reading(self):
        """SQLite: no BEGIN, so each statement reads on its own and nothing is locked (the step's
        consistency comes from the revision check when it is written; the instance and its task
        rows are read by one statement). PostgreSQL: a READ COMMITTED transaction, which locks nothing."""
        if self.sqlite:
            self.connection.info[_BEGIN] = ""
        with self.session.begin():
            yield self.session

    @contextmanager
    def writing(self):
        self.connection.info.pop(_BEGIN, None)
        with self.session.begin():
            yield self.session
