"""Database connections and the unit of work.

SQLite (the embedded default) runs in WAL mode; write transactions start with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout instead of failing
late on a stale snapshot. PostgreSQL uses READ COMMITTED plus the optimistic revision
counter on ``process_instance``.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import engine.refcache  # noqa: F401  (registers the reference-data generation bumps on every session)

SQLITE_BUSY_TIMEOUT_MS = 30_000


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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Owns the engines. ``write()`` is the unit of work for every state change."""

    def __init__(self, url: str):
        self.url = make_url(url)
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url, immediate=False)
            self.write_engine = _sqlite_engine(self.url, immediate=True)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
            self.write_engine = self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @contextmanager
    def read(self):
        """A session for queries; rolled back at the end. Loaded objects stay readable afterwards."""
        with self._read() as session:
            try:
                yield session
            finally:
                session.expunge_all()
                session.rollback()

    @contextmanager
    def write(self):
        """One transaction: committed if the block succeeds, rolled back otherwise."""
        with self._write() as session, session.begin():
            yield session

    def lookup(self):
        """A connection for one read outside any transaction (the API token check). PostgreSQL:
        autocommit, so no BEGIN/ROLLBACK round trips; SQLite: a plain connection, whose local BEGIN
        costs less than switching the driver's isolation level there and back."""
        if self.dialect == "sqlite":
            return self.engine.connect()
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

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
