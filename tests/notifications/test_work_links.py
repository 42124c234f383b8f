"""Every message links to the page where the work is done: in the inbox a real link within the site (it
works whatever host or port serves), in email the deployment's address — which, when ZJTX_BASE_URL is
not set, is the host and port `zjtx serve` serves on, not port 5000."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.cli.serving import served_url
from engine.identity.accounts import issue_token
from engine.identity.org import get_user
from engine.storage.models import OutboxMessage
from notifications.channels.inbox import site_path
from tests.helpers import REGISTRATION, Browser, Item, liaison, wait_for

ROOT = Path(__file__).resolve().parents[2]
LEAD = "区科技局"


def test_a_link_under_the_base_url_is_kept_as_a_path_within_the_site():
    base = "https://zjtx.example.gov.cn/"
    assert site_path("https://zjtx.example.gov.cn/tasks/12", base) == "/tasks/12"
    assert site_path("https://zjtx.example.gov.cn", base) == "/"
    assert site_path("https://zjtx.example.gov.cn.evil.example/tasks/1", base) == \
        "https://zjtx.example.gov.cn.evil.example/tasks/1"  # only under the base itself
    assert site_path("https://other.example/x", base) == "https://other.example/x"
    assert site_path(None, base) is None


def test_served_url_names_an_address_one_can_open():
    assert served_url("127.0.0.1", 5077) == "http://127.0.0.1:5077"
    assert served_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert served_url("::1", 8080) == "http://[::1]:8080"
    assert served_url("zjtx.example.gov.cn", 80) == "http://zjtx.example.gov.cn:80"


@pytest.mark.sqlite_only  # the pages, like tests/web/test_web.py
def test_the_inbox_shows_the_link_as_a_link_that_opens_the_task(zjtx):
    from web import create_app

    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    sign = item.task("sign", LEAD)
    browser = Browser(create_app(services=zjtx, config={"TESTING": True}))
    browser.login(liaison(LEAD))
    page = browser.get("/notifications").get_data(as_text=True)
    assert f'<a class="button" href="/tasks/{sign["id"]}">去办理</a>' in page
    assert f'去办理：<a href="/tasks/{sign["id"]}">/tasks/{sign["id"]}</a>' in page
    assert "127.0.0.1:5000" not in page
    task_page = browser.get(f"/tasks/{sign['id']}")
    assert task_page.status_code == 200 and "签收" in task_page.get_data(as_text=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_zjtx_serve_without_a_base_url_links_to_the_port_it_serves(database_url, make_engine):
    services = make_engine(database_url)
    with services.db.write() as session:
        token = issue_token(session, get_user(session, "officer").id, "测试")
    services.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "ZJTX_BASE_URL"}
    env.update(DATABASE_URL=database_url, ZJTX_SMTP_HOST="127.0.0.1")  # email rows are written, not sent
    server = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--no-scheduler", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False
        wait_for(up)
        request = urllib.request.Request(f"{base}/api/v1/items", method="POST",
                                         data=json.dumps(REGISTRATION, ensure_ascii=False).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            started = json.loads(response.read())
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"消息中的链接地址：{base}" in output
    services = make_engine(database_url)
    try:
        with services.db.read() as session:
            [mail] = session.scalars(select(OutboxMessage).where(
                OutboxMessage.address == "dispatcher@zjtx.qianjiang.example"))
        [triage] = services.queries.tasks(instance_id=started["id"])
    finally:
        services.close()
    assert f"去办理：{base}/tasks/{triage['id']}" in mail.body
