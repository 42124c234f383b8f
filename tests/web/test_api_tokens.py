"""API tokens can be ended: an administrator sees a user's tokens (never their values) and revokes one on
the user's page or with ``zjtx token USER - --revoke ID``; the next call with it is 401. Issuing and
revoking are audited."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli import main
from engine.identity.accounts import issue_token
from engine.identity.org import get_user
from engine.storage.models import ApiToken, AuditRecord
from tests.helpers import Browser
from web import create_app

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def app(zjtx):
    return create_app(services=zjtx, config={"TESTING": True})


def _issue(zjtx, username="dispatcher", name="台账脚本") -> tuple[int, int, str]:
    with zjtx.db.write() as session:
        user_id = get_user(session, username).id
        value = issue_token(session, user_id, name)
        session.flush()
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()))
    return user_id, token_id, value


def _calls(app, value: str) -> int:
    return app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {value}"}).status_code


def test_an_administrator_sees_and_revokes_a_token(app, zjtx):
    user_id, token_id, value = _issue(zjtx)
    assert _calls(app, value) == 200
    admin = Browser(app)
    admin.login("admin")
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "台账脚本" in page and f"#{token_id}" in page and value not in page
    answer = admin.post(f"/admin/users/{user_id}/tokens/{token_id}/revoke")
    assert answer.status_code == 302
    assert _calls(app, value) == 401
    assert "已吊销" in admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    with zjtx.db.read() as session:
        audit = session.scalars(select(AuditRecord).where(AuditRecord.action == "token_revoked")).one()
        assert (audit.actor, audit.data) == ("admin", {"user_id": user_id, "token_id": token_id})


def test_a_token_is_revoked_only_through_its_own_user(app, zjtx):
    _, token_id, value = _issue(zjtx)
    other = _issue(zjtx, "admin", "别人的脚本")[0]
    admin = Browser(app)
    admin.login("admin")
    admin.get("/admin/")  # the signed-in session's CSRF token
    assert admin.post(f"/admin/users/{other}/tokens/{token_id}/revoke").status_code == 404
    assert admin.post(f"/admin/users/{other}/tokens/99999/revoke").status_code == 404
    assert _calls(app, value) == 200


def test_no_one_else_may_revoke(app, zjtx):
    user_id, token_id, value = _issue(zjtx)
    dispatcher = Browser(app)
    dispatcher.login("dispatcher")  # the token's own holder is not an administrator
    dispatcher.get("/")
    assert dispatcher.post(f"/admin/users/{user_id}/tokens/{token_id}/revoke").status_code in (403, 404)
    assert _calls(app, value) == 200


def test_the_command_line_lists_revokes_and_audits(zjtx, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(zjtx.db.engine.url))
    runner = CliRunner()
    issued = runner.invoke(main, ["token", "dispatcher", "夜间同步"])
    assert issued.exit_code == 0, issued.output
    value = issued.stdout.strip()
    listed = runner.invoke(main, ["token", "dispatcher", "-", "--list"])
    assert "夜间同步" in listed.stdout and "从未使用" in listed.stdout and value not in listed.stdout
    token_id = int(listed.stdout.split()[0].lstrip("#"))
    revoked = runner.invoke(main, ["token", "dispatcher", "-", "--revoke", str(token_id)])
    assert revoked.exit_code == 0 and f"#{token_id}" in revoked.stdout
    assert "已吊销" in runner.invoke(main, ["token", "dispatcher", "-", "--list"]).stdout
    wrong = runner.invoke(main, ["token", "admin", "-", "--revoke", str(token_id)])
    assert wrong.exit_code == 1 and "不存在或不属于该用户" in wrong.stderr and "Traceback" not in wrong.output
    with zjtx.db.read() as session:
        actions = list(session.scalars(select(AuditRecord.action).where(AuditRecord.actor == "zjtx")))
    assert actions == ["token_issued", "token_revoked"]
