"""Fixtures. Storage-facing tests run on SQLite and on PostgreSQL (TEST_DATABASE_URL).

Every test has a database of its own, so tests never see each other's rows: SQLite, a file in the
test's tmp_path; PostgreSQL, a database created for the test on the server and dropped afterwards.
A test that builds an engine (`zjtx`, `mailing_zjtx`, `make_engine`) starts from a copy of a template
made once per run (schema, organisation, demo users, bundled processes) instead of making all that
itself (about a second each: password hashing, parsing and deploying the diagrams); its sequences,
reference generations and everything else are as init-db + seed + deploy leave them. Any other test
gets an empty database, as a fresh installation has.
Outside CI the PostgreSQL variants skip when TEST_DATABASE_URL is unset; in CI they must run.

Shared plain helpers (diagrams, a logged-in test client, enterprise records…) are in helpers.py; no
test module imports another, nor this file (`make_engine` is a fixture).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import time_machine
from sqlalchemy.engine import make_url

from engine.bootstrap import bootstrap
from engine.config import PROCESSES_DIR, Settings
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, remove_notice

# Sessions are signed with a key of the test run (subprocesses such as `zjtx serve` inherit it); the
# tests of a missing key take it away themselves.
TEST_SECRET_KEY = "test-secret-" + uuid.uuid4().hex + uuid.uuid4().hex
os.environ.setdefault("ZJTX_SECRET_KEY", TEST_SECRET_KEY)

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["sqlite", "postgresql"]


def _pg_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI 必须设置 TEST_DATABASE_URL 以运行 PostgreSQL 测试")
        pytest.skip("未设置 TEST_DATABASE_URL，跳过 PostgreSQL 测试（CI 中会运行）")
    return url


# Fixtures that build an engine from the test's database: on PostgreSQL such a test's database is
# created as a copy of the template (on SQLite, make_engine copies the template file itself).
ENGINE_FIXTURES = {"zjtx", "mailing_zjtx", "make_engine"}


class _Postgres:
    """The PostgreSQL server of TEST_DATABASE_URL: one template database per test run, then one database per
    test, copied from the template (``CREATE DATABASE … TEMPLATE``) or empty. The names carry this
    process's id, so runs at the same time on one server never meet; all are dropped by the end of the run."""

    def __init__(self, url: str):
        self.base = make_url(url)
        # psycopg connects to the URL's own database (`test`) to create and drop the others
        self.admin = self.base.set(drivername="postgresql").render_as_string(hide_password=False)
        self.prefix = f"zjtx_{os.getpid()}"
        self.template: str | None = None
        self.copies: set[str] = set()  # copied from the template and not yet opened by make_engine
        self.lock = threading.Lock()
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self.ahead: Future | None = None  # the next copy of the template, being made

    def url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:  # CREATE/DROP DATABASE: no transaction
            for statement in statements:
                conn.execute(statement)

    def _template(self) -> str:
        with self.lock:
            if self.template is None:
                name = f"{self.prefix}_template"
                self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE template0')
                services = bootstrap(Settings(database_url=self.url(name), processes_dir=PROCESSES_DIR))
                try:
                    services.init_db()
                    services.seed()
                    services.deploy_bundled(deployed_by="admin")
                finally:
                    services.close()  # a database is copied only while nobody is connected to it
                # and nobody connects to it by mistake afterwards
                self.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                self.template = name
            return self.template

    def _copy(self) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template()}"')
        return name

    def create(self, from_template: bool) -> str:
        """A new database. A copy of the template is made while the test before runs (one made ahead, by a
        background thread, as dropping is): each test waits for neither."""
        if from_template:
            # never two copies of the template at once: PostgreSQL refuses a copy while another reads it
            name = self.ahead.result() if self.ahead is not None else self._copy()
            self.ahead = self.background.submit(self._copy)
            self.copies.add(name)
            return name
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        # template0: nobody can be connected to it (template1 may have visitors)
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop(self, name: str) -> None:
        self.copies.discard(name)
        # WITH (FORCE): connections a test left behind (a killed subprocess's) do not keep it
        self.background.submit(self.execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.ahead is not None:
            self.drop(self.ahead.result())
            self.ahead = None
        self.background.shutdown(wait=True)
        if self.template is not None:
            self.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            self.template = None


_postgres: dict[str, _Postgres] = {}


def _server() -> _Postgres:
    url = _pg_url()
    with _template_lock:
        return _postgres.setdefault(url, _Postgres(url))


def pytest_sessionfinish(session):
    for server in _postgres.values():
        server.close()


@pytest.fixture
def database_url(request, tmp_path):
    """An empty database of the test's backend; a copy of the template when the test builds an engine."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'zjtx.sqlite3'}"
        return
    server = _server()
    name = server.create(from_template=bool(ENGINE_FIXTURES & set(request.fixturenames)))
    yield server.url(name)
    server.drop(name)


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
    if target.get_backend_name() == "sqlite":
        fresh = bool(target.database) and not Path(target.database).exists()
        if fresh:
            shutil.copyfile(_sqlite_template(), target.database)
    else:
        server = _postgres.get(os.environ.get("TEST_DATABASE_URL") or "")
        fresh = server is not None and target.database in server.copies
        if fresh:  # the database_url fixture made it as a copy of the template: only the first engine skips init
            server.copies.discard(target.database)
    settings.setdefault("secret_key", os.environ["ZJTX_SECRET_KEY"])
    # The suite runs on both cores beside Chromium: a worker process may wait its turn longer than the product's
    # 3 s for a runaway script (seen once, on a two-line script). The limits themselves are tested with their own
    # (tests/runtime/test_limits.py, test_sandbox.py).
    settings.setdefault("script_wall_seconds", 15.0)
    services = bootstrap(Settings(database_url=url, processes_dir=PROCESSES_DIR, **settings), clock=clock)
    if not fresh:
        services.init_db()
        services.seed()
        services.deploy_bundled(deployed_by="admin")
    return services


@pytest.fixture(scope="session", name="make_engine")
def make_engine_fixture():
    """``make_engine(url, clock=None, **settings)``: an engine on a database with the organisation, demo users
    and our processes (a copy of the template when the database is new), for engines with other settings
    or more than one (a restart). The caller closes it."""
    return make_engine


@pytest.fixture
def zjtx(database_url):
    """An engine on a fresh database with the organisation, demo users and our processes."""
    services = make_engine(database_url)
    yield services
    services.close()


FIXED_NOW = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Beijing, in a confirmed calendar year


@pytest.fixture
def clock():
    """The clock stopped at FIXED_NOW for the test: ``clock.shift(timedelta(...))``, ``clock.move_to(moment)``.
    For tests whose expectations depend on what day it is (working days, deadlines, years)."""
    with time_machine.travel(FIXED_NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def year_without_notice(monkeypatch):
    """2027 without its notice (see ``remove_notice``), whatever the installed ``holidays`` carries."""
    remove_notice(monkeypatch, 2027)
    return 2027


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
def sms_gateway():
    """An SMS gateway on loopback that keeps what it is sent (notifications/channels/sms.py): yields its URL and
    the list of (Idempotency-Key, JSON body) received."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[str | None, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            received.append((self.headers.get("Idempotency-Key"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/send", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailing_zjtx(database_url, smtp):
    """An engine that sends email to the loopback SMTP server."""
    services = make_engine(database_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                         delivery_backoff_seconds=60, delivery_max_attempts=4)
    yield services
    services.close()


@pytest.fixture
def chromium():
    """Debian's chromium, headless (the browser tests)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI 需要 Debian 的 chromium（make test 会安装）")
        pytest.skip("没有安装 chromium（make test 会用 apt-get 安装）")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def server(zjtx):
    """Our real server (werkzeug, threaded) on loopback, on the test's engine; yields its base URL."""
    from werkzeug.serving import make_server

    from web import create_app

    http = make_server("127.0.0.1", 0, create_app(services=zjtx), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
