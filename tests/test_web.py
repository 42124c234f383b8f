"""The minimal web app: status page, health check, and the open-task JSON with authorization."""
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import time_machine

from engine.org import DEMO_PASSWORD
from tests.helpers import Item, liaison
from web import create_app

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def client(zjtx):
    app = create_app(engine=zjtx, config={"TESTING": True})
    return app.test_client()


def basic(user: str, password: str = DEMO_PASSWORD) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_status_page_shows_counts_in_chinese(client, zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch("区科技局", co={"区财政局": 3})
    with time_machine.travel(datetime(2026, 11, 28, 12, 0, tzinfo=UTC)):
        page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "流程引擎运行状态" in text and "区科技局" in text and "办理中事项 1 件" in text
    assert "2027 年的国务院节假日安排尚未导入" in text  # today is in 2026; 2027's notice is not in
    assert "Content-Security-Policy" in page.headers
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_task_json_needs_a_valid_login(client):
    assert client.get("/api/v1/tasks").status_code == 401
    denied = client.get("/api/v1/tasks", headers=basic("dispatcher", "wrong"))
    assert denied.status_code == 401 and "用户名和密码" in denied.get_json()["message"]
    assert client.get("/api/v1/tasks", headers=basic("nobody")).status_code == 401


def test_a_liaison_gets_their_own_departments_tasks_only(client, zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch("区科技局", co={"区财政局": 3})
    mine = client.get("/api/v1/tasks", headers=basic(liaison("区科技局"))).get_json()["tasks"]
    assert [(t["task"], t["department"]) for t in mine] == [("sign", "区科技局")]
    everything = client.get("/api/v1/tasks", headers=basic("dispatcher")).get_json()["tasks"]
    assert sorted(t["department"] for t in everything) == ["区科技局", "区财政局"]
    bad = client.get("/api/v1/tasks?department=区无此局", headers=basic("dispatcher"))
    assert bad.status_code == 404 and bad.get_json()["message"] == "部门「区无此局」不存在"


def test_unknown_pages_answer_in_json_not_a_traceback(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.get_json()["message"] == "页面不存在"
    assert client.post("/healthz").status_code == 405
