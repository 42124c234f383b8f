"""Sessions end on the server: logout, a new password, an administrator's 强制下线, a reset password or
a deactivated account end every copy of the cookie; without a secret the web does not start, and a
session signed with a guessable key is worth nothing."""
from __future__ import annotations

import os
from dataclasses import replace

import pytest
from click.testing import CliRunner
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from engine.cli import main
from engine.config import Settings
from engine.errors import ConfigurationError
from engine.identity.authz import SYSTEM
from engine.identity.org import DEMO_PASSWORD
from engine.storage.models import AuditRecord
from tests.helpers import Browser
from tests.helpers import liaison as liaison_of
from web import session_secret

pytestmark = pytest.mark.sqlite_only
NEW_PASSWORD = "新的密码2026ab"



def signed_in(app, user) -> Browser:
    b = Browser(app)
    assert b.login(user).status_code == 302
    return b


def copy_of(app, b: Browser) -> Browser:
    """Another client holding the same session cookie (a stolen or copied cookie)."""
    other = Browser(app)
    other.client.set_cookie("session", b.client.get_cookie("session").value)
    return other


def is_in(b: Browser) -> bool:
    response = b.client.get("/")
    return response.status_code == 200


def user_id(zjtx, username):
    return next(u["id"] for u in zjtx.identity.users(SYSTEM) if u["username"] == username)


def audited(zjtx, action) -> list[dict]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(AuditRecord.data).where(AuditRecord.action == action)))


def test_a_copied_cookie_stops_working_after_logout(app):
    b = signed_in(app, "officer")
    stolen = copy_of(app, b)
    assert is_in(stolen)
    b.get("/")
    assert b.post("/logout").status_code == 302
    assert not is_in(b)
    response = stolen.client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "登录已失效" in stolen.client.get("/login").get_data(as_text=True)
    # the API with the copied cookie is refused too
    assert stolen.client.get("/api/v1/tasks").status_code == 401


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(app):
    desk = signed_in(app, "officer")
    phone = signed_in(app, "officer")
    stolen = copy_of(app, desk)
    desk.get("/password")
    changed = desk.post("/password", {"old_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD,
                                      "confirm_password": NEW_PASSWORD})
    assert changed.status_code == 302
    assert is_in(desk)  # the session that changed it goes on
    assert not is_in(phone) and not is_in(stolen)
    assert Browser(app).login("officer", NEW_PASSWORD).status_code == 302


def test_an_administrator_signs_a_user_out_everywhere_and_a_reset_or_deactivation_does_too(app, zjtx):
    admin = signed_in(app, "admin")
    officer_id = user_id(zjtx, "officer")
    first = signed_in(app, "officer")
    page = admin.get(f"/admin/users/{officer_id}")  # also the page's CSRF token
    assert "强制下线" in page.get_data(as_text=True) and "解除登录限制" in page.get_data(as_text=True)
    assert admin.post(f"/admin/users/{officer_id}/sign-out").status_code == 302
    assert not is_in(first) and is_in(admin)
    assert audited(zjtx, "sessions_ended") == [{"user_id": officer_id}]

    second = signed_in(app, "officer")
    values = zjtx.identity.user(SYSTEM, officer_id)
    form = {"display_name": values["display_name"], "email": values["email"] or "", "department": values["department"],
            "roles": values["roles"], "active": "on", "password": "重设的密码2026"}
    assert admin.post(f"/admin/users/{officer_id}", form).status_code == 302
    assert not is_in(second)

    third = Browser(app)
    assert third.login("officer", "重设的密码2026").status_code == 302
    form.pop("active")
    form["password"] = ""
    assert admin.post(f"/admin/users/{officer_id}", form).status_code == 302  # 停用
    assert not is_in(third)
    # a liaison cannot sign others out
    liaison = signed_in(app, liaison_of("区科技局"))
    liaison.get("/")
    assert liaison.post(f"/admin/users/{officer_id}/sign-out").status_code == 403


def test_without_a_secret_the_web_does_not_start(zjtx, tmp_path):
    no_secret = replace(zjtx.settings, secret_key=None)
    with pytest.raises(ConfigurationError) as refused:
        session_secret(no_secret)
    assert "ZJTX_SECRET_KEY" in refused.value.message
    with pytest.raises(ConfigurationError, match="太短"):
        session_secret(replace(zjtx.settings, secret_key="dev-only-secret"))
    development = replace(no_secret, environment="development")
    first, second = session_secret(development), session_secret(development)
    assert len(first) == 64 and first != second  # random, never a known value
    # nor from the environment, when neither the variable nor the key file is there
    env = {"DATABASE_URL": zjtx.settings.database_url, "ZJTX_SECRET_KEY_FILE": str(tmp_path / "none")}
    assert Settings.from_env(env).secret_key is None
    (tmp_path / "key").write_text("k" * 64 + "\n")
    assert Settings.from_env({**env, "ZJTX_SECRET_KEY_FILE": str(tmp_path / "key")}).secret_key == "k" * 64


def test_zjtx_serve_refuses_without_a_secret_and_secret_key_makes_one(zjtx, tmp_path, monkeypatch):
    monkeypatch.delenv("ZJTX_SECRET_KEY", raising=False)
    monkeypatch.setenv("ZJTX_SECRET_KEY_FILE", str(tmp_path / "secret_key"))
    monkeypatch.setenv("DATABASE_URL", zjtx.settings.database_url)
    runner = CliRunner()
    refused = runner.invoke(main, ["serve", "--no-scheduler", "--port", "0"])
    assert refused.exit_code == 1 and "未设置会话密钥" in refused.output and "Traceback" not in refused.output
    made = runner.invoke(main, ["secret-key"])
    assert made.exit_code == 0, made.output
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) == 64 and oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(main, ["secret-key"])
    assert "已存在" in again.output and (tmp_path / "secret_key").read_text().strip() == key
    assert Settings.from_env(dict(os.environ)).secret_key == key


def test_a_session_forged_with_the_old_default_key_is_refused(app, zjtx):
    """The earlier versions signed with "dev-only-secret": a cookie made with it is worth nothing now."""
    from flask import Flask

    forger = Flask("forger")
    forger.secret_key = "dev-only-secret"
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    for payload in ({"uid": 1, "seen": 9e9, "csrf": "x"}, {"_user_id": "1:0", "seen": 9e9}):
        b = Browser(app)
        b.client.set_cookie("session", serializer.dumps(payload))
        response = b.client.get("/admin/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_api_change_without_a_login_is_unauthorized_before_any_csrf_check(app):
    anonymous = Browser(app).client.post("/api/v1/items", json={})
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == "unauthorized"
