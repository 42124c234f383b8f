"""Fixtures. Storage-facing tests run on SQLite and on PostgreSQL (TEST_DATABASE_URL).

Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows.
Outside CI the PostgreSQL variants skip when TEST_DATABASE_URL is unset; in CI they must run.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from engine.bootstrap import bootstrap
from engine.config import PROCESSES_DIR, Settings

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["sqlite", "postgresql"]


def _pg_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI 必须设置 TEST_DATABASE_URL 以运行 PostgreSQL 测试")
        pytest.skip("未设置 TEST_DATABASE_URL，跳过 PostgreSQL 测试（CI 中会运行）")
    return url


@pytest.fixture
def database_url(request, tmp_path):
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'zjtx.sqlite3'}"
        return
    base = make_url(_pg_url())
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pytest_generate_tests(metafunc):
    # Every test that asks for `database_url` (directly or through `zjtx`) runs on both backends.
    if "database_url" in metafunc.fixturenames and "backend" not in metafunc.fixturenames:
        if metafunc.definition.get_closest_marker("sqlite_only"):
            params = ["sqlite"]
        elif metafunc.definition.get_closest_marker("postgres"):
            params = ["postgresql"]
        else:
            params = BACKENDS
        metafunc.parametrize("database_url", params, indirect=True)


_template: dict[str, Path] = {}
_template_lock = threading.Lock()


def _sqlite_template() -> Path:
    """A database made once per test run the way every test needs it (schema, organisation, demo users,
    bundled processes); each SQLite test starts from a copy of it instead of making its own (about a
    second each: password hashing, parsing and deploying the diagrams)."""
    with _template_lock:
        if "path" not in _template:
            path = Path(tempfile.mkdtemp(prefix="zjtx-template-")) / "zjtx.sqlite3"
            services = bootstrap(Settings(database_url=f"sqlite:///{path}", processes_dir=PROCESSES_DIR))
            services.init_db()
            services.seed()
            services.deploy_bundled(deployed_by="admin")
            services.close()  # the last connection closing checkpoints the WAL into the file
            _template["path"] = path
        return _template["path"]


def make_engine(url: str, clock=None, **settings):
    """An engine on a database with the organisation, demo users and our processes."""
    target = make_url(url)
    fresh = target.get_backend_name() == "sqlite" and target.database and not Path(target.database).exists()
    if fresh:
        shutil.copyfile(_sqlite_template(), target.database)
    services = bootstrap(Settings(database_url=url, processes_dir=PROCESSES_DIR, **settings), clock=clock)
    if not fresh:
        services.init_db()
        services.seed()
        services.deploy_bundled(deployed_by="admin")
    return services


@pytest.fixture
def zjtx(database_url):
    """An engine on a fresh database with the organisation, demo users and our processes."""
    services = make_engine(database_url)
    yield services
    services.close()


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email
                from email import policy

                message = email.message_from_bytes(envelope.content, policy=policy.default)
                sink.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        self.port = _free_port()
        self._make = lambda: Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller = None

    def start(self):
        # A stopped controller cannot start again: a restart is a new server on the same port.
        self.controller = self._make()
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects_to(self, address: str) -> list[str]:
        return [m["Subject"] for rcpts, m in self.messages if address in rcpts]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mailing_zjtx(database_url, smtp):
    """An engine that sends email to the loopback SMTP server."""
    services = make_engine(database_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                         delivery_backoff_seconds=60, delivery_max_attempts=4)
    yield services
    services.close()
