"""Creating and upgrading the schema with Alembic, from code (no alembic.ini needed)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from engine.storage.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (idempotent), keeping the data."""
    _migrate(db, command.upgrade, revision)


def downgrade(db: Database, revision: str) -> None:
    """Take the database schema back to ``revision`` (tests of a migration's data step), keeping the data."""
    _migrate(db, command.downgrade, revision)


def _migrate(db: Database, step, revision: str) -> None:
    cfg = alembic_config(db.url.render_as_string(hide_password=False))

    def run(conn):
        cfg.attributes["connection"] = conn
        step(cfg, revision)

    if db.dialect != "sqlite":
        # As the login user (the application's connections work as the role zjtx_app, which owns nothing).
        migrator = create_engine(db.url, poolclass=NullPool)
        try:
            with migrator.begin() as conn:
                run(conn)
        finally:
            migrator.dispose()
        db.dispose()  # connections opened before the role existed open again as it
        return
    # SQLite alters tables by copying them; with foreign keys on, dropping the old copy of a table that
    # others reference fails. The pragma only works outside a transaction, so it is set on the driver.
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                run(conn)
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
