"""A real installation has no account with a published password: ``zjtx seed --no-demo-users`` and then
``zjtx create-admin NAME``, whose random password is shown once; ``--reset-password`` when it is lost.
``zjtx seed`` with demo accounts says that their password is public."""
from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.bootstrap import bootstrap
from engine.config import Settings
from engine.identity.org import DEMO_PASSWORD
from engine.storage.models import AuditRecord, User
from tests.helpers import Browser
from web import create_app

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def run(database_url, monkeypatch):
    from engine.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args, code=0):
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, result.output + result.stderr
        assert "Traceback" not in result.output
        return result

    invoke("init-db")
    return invoke


def _password(result) -> str:
    return re.search(r"^密码：(\S+)$", result.stdout, re.MULTILINE).group(1)


def _logs_in(database_url, username, password) -> bool:
    services = bootstrap(Settings.from_env({**os.environ, "DATABASE_URL": database_url}))
    try:
        b = Browser(create_app(services=services, config={"TESTING": True}))
        b.get("/login")
        return b.post("/login", {"username": username, "password": password}).status_code == 302
    finally:
        services.close()


def test_a_fresh_installation_gets_an_administrator_with_a_password_of_its_own(run, database_url):
    seeded = run("seed", "--no-demo-users")
    assert "新建用户 0 个" in seeded.stdout and "演示账号" not in seeded.stderr
    result = run("create-admin", "wang_admin", "--display-name", "王管理员")
    password = _password(result)
    assert len(password) >= 16 and password != DEMO_PASSWORD and "已创建管理员" in result.stdout
    assert _logs_in(database_url, "wang_admin", password)
    assert not _logs_in(database_url, "wang_admin", DEMO_PASSWORD)
    services = bootstrap(Settings.from_env({**os.environ, "DATABASE_URL": database_url}))
    with services.db.read() as session:
        user = session.scalar(select(User).where(User.username == "wang_admin"))
        assert user.role_names == {"admin"} and user.display_name == "王管理员"
        assert session.scalar(select(AuditRecord.action).where(AuditRecord.actor == "zjtx")) == "admin_created"
    services.close()


def test_an_existing_user_is_changed_only_when_asked(run, database_url):
    run("seed", "--no-demo-users")
    first = _password(run("create-admin", "wang_admin"))
    refused = run("create-admin", "wang_admin", code=1)
    assert "已存在" in refused.stderr and "--reset-password" in refused.stderr
    assert _logs_in(database_url, "wang_admin", first)
    second = _password(run("create-admin", "wang_admin", "--reset-password"))
    assert second != first
    assert _logs_in(database_url, "wang_admin", second) and not _logs_in(database_url, "wang_admin", first)


def test_a_bad_user_name_is_refused_in_chinese(run):
    run("seed", "--no-demo-users")
    assert "用户名只能由字母、数字和下划线组成" in run("create-admin", "王 admin", code=1).stderr


def test_demo_accounts_come_with_a_warning(run):
    seeded = run("seed")
    assert "演示账号" in seeded.stderr and "zjtx seed --no-demo-users" in seeded.stderr
    assert "演示账号" not in run("seed").stderr  # nothing new created the second time
