"""Individual work notices as 企业微信/政务微信 application messages, sent to a WeCom API on loopback (a real
HTTP server in a thread) that checks each request against the documented format
(developer.work.weixin.qq.com/document/path/90236, /91039) and answers as WeCom does."""
from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from engine.cli import main
from engine.config import Settings
from engine.errors import ConfigurationError
from engine.storage.models import OutboxMessage, User
from notifications.channels.base import Message
from notifications.channels.wecom import DESCRIPTION_BYTES, description
from tests.helpers import Browser, Item, liaison

BASE = "https://zjtx.example.gov.cn"
CORP, AGENT, SECRET = "ww0123456789abcdef", 1000002, "the-app-secret"
LEAD = "区科技局"
TAG = re.compile(r'<div class="(gray|normal|highlight)">([^<]*)</div>')


class WecomApi:
    """gettoken and message/send as WeCom answers them; ``problems`` lists every deviation from the format."""

    def __init__(self):
        self.tokens: list[str] = []
        self.sent: list[dict] = []
        self.problems: list[str] = []
        self.expire = 0  # answer 42001 to this many sends
        self.errcode = 0  # answer this to every other send
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: dict):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                if url.path != "/cgi-bin/gettoken" or query != {"corpid": [CORP], "corpsecret": [SECRET]}:
                    api.problems.append(f"GET {self.path}")
                    return self._answer({"errcode": 40013, "errmsg": "invalid corpid"})
                api.tokens.append(f"TOKEN{len(api.tokens) + 1}")
                self._answer({"errcode": 0, "errmsg": "ok", "access_token": api.tokens[-1], "expires_in": 7200})

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                api.problems.extend(check_send(url, self.headers.get("Content-Type", ""), raw, api.tokens))
                if urllib.parse.parse_qs(url.query).get("access_token") != api.tokens[-1:]:
                    return self._answer({"errcode": 40014, "errmsg": "invalid access_token"})
                if api.expire:
                    api.expire -= 1
                    return self._answer({"errcode": 42001, "errmsg": "access_token expired"})
                if api.errcode:
                    return self._answer({"errcode": api.errcode, "errmsg": "all touser invalid"})
                api.sent.append(json.loads(raw))
                self._answer({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"m{len(api.sent)}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


def check_send(url, content_type: str, raw: bytes, tokens: list[str]) -> list[str]:
    """What a message/send request does wrong by the documentation (nothing: [])."""
    problems = []
    if url.path != "/cgi-bin/message/send" or not tokens:
        problems.append(f"POST {url.path} (token fetched: {bool(tokens)})")
    if not content_type.startswith("application/json"):
        problems.append(f"Content-Type {content_type}")
    body = json.loads(raw.decode("utf-8"))
    card = body.get("textcard") or {}
    checks = {
        "msgtype": body.get("msgtype") == "textcard", "agentid": body.get("agentid") == AGENT,
        "touser": isinstance(body.get("touser"), str) and body["touser"] and "|" not in body["touser"],
        "fields": set(card) == {"title", "description", "url", "btntxt"},
        "title": 0 < len(card.get("title", "").encode()) <= 128,
        "description": 0 < len(card.get("description", "").encode()) <= DESCRIPTION_BYTES
        and TAG.sub("", card.get("description", "")) == "",
        "url": str(card.get("url", "")).startswith(("http://", "https://")),
        "btntxt": card.get("btntxt") == "去办理",
        "duplicate check": body.get("enable_duplicate_check") == 1,
    }
    return problems + [f"{name}: {body}" for name, ok in checks.items() if not ok]


@pytest.fixture
def wecom():
    api = WecomApi()
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


@pytest.fixture
def engine(database_url, make_engine, wecom, clock):
    services = make_engine(database_url, base_url=BASE, wecom_corp_id=CORP, wecom_agent_id=AGENT,
                           wecom_secret=SECRET, wecom_api_base=wecom.base, delivery_backoff_seconds=60)
    with services.db.write() as session:
        session.execute(update(User).where(User.username == liaison(LEAD)).values(wecom_userid="LiSi"))
    yield services
    services.close()


def wecom_rows(zjtx) -> list[OutboxMessage]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom")
                                    .order_by(OutboxMessage.id)))


def dispatched(zjtx) -> dict:
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    return item.task("sign", LEAD)


def test_a_new_task_reaches_the_liaisons_wecom_as_a_text_card_with_a_link(engine, wecom):
    sign = dispatched(engine)
    assert [r.address for r in wecom_rows(engine)] == ["LiSi"]  # only users with a WeCom account
    assert engine.deliverer.deliver_due() == 1
    assert wecom.problems == [] and wecom.tokens == ["TOKEN1"]
    [sent] = wecom.sent
    card = sent["textcard"]
    assert sent["touser"] == "LiSi" and card["url"] == f"{BASE}/tasks/{sign['id']}"
    assert card["title"] == "新交办：重庆黔江某精密制造有限公司「用地问题」"
    parts = dict(TAG.findall(card["description"]))
    assert parts["highlight"] == "请于 2026-11-05 23:59（周四）前签收（还有 1 个工作日）"
    assert "已交由区科技局主办" in parts["normal"] and parts["gray"].endswith("· 签收 · 区科技局")
    item = Item(engine)  # a second message: the token is kept
    item.accept()
    item.dispatch(LEAD)
    assert engine.deliverer.deliver_due() == 1 and wecom.tokens == ["TOKEN1"] and len(wecom.sent) == 2


def test_an_expired_token_is_fetched_again_once(engine, wecom):
    dispatched(engine)
    wecom.expire = 1
    assert engine.deliverer.deliver_due() == 1
    assert wecom.tokens == ["TOKEN1", "TOKEN2"] and len(wecom.sent) == 1 and wecom.problems == []
    assert wecom_rows(engine)[0].status == "sent"


def test_an_error_code_is_a_failed_delivery_tried_again_later(engine, wecom):
    dispatched(engine)
    wecom.errcode = 81013
    assert engine.deliverer.deliver_due() == 0
    [row] = wecom_rows(engine)
    assert (row.status, row.attempts) == ("pending", 1) and "81013" in row.last_error
    assert SECRET not in row.last_error and "TOKEN" not in row.last_error


def test_a_user_who_switched_wecom_off_gets_no_card(engine, wecom):
    result = CliRunner().invoke(main, ["notify-pref", liaison(LEAD), "wecom", "off"], obj=engine)
    assert result.exit_code == 0, result.output
    assert "企业微信/政务微信关闭" in result.output
    dispatched(engine)
    assert wecom_rows(engine) == []


def test_a_long_text_is_cut_within_the_limits_at_a_character_boundary():
    summary = "企业反映<用地>&指标“不足”" * 60
    text = description(Message(key="k", subject="s", body="", data={
        "summary": summary, "business_key": "ZJTX-2026-00001", "step": "签收", "deadline": "请于 2026-11-05 23:59 前签收"}))
    assert len(text.encode("utf-8")) <= DESCRIPTION_BYTES
    parts = TAG.findall(text)
    assert [css for css, _ in parts] == ["gray", "normal", "highlight"] and TAG.sub("", text) == ""
    assert parts[1][1].endswith("…") and "&lt;用地&gt;&amp;" in parts[1][1]  # escaped, never cut inside an entity
    assert parts[2][1] == "请于 2026-11-05 23:59 前签收"


def test_the_settings_come_together_or_not_at_all():
    full = {"ZJTX_WECOM_CORP_ID": CORP, "ZJTX_WECOM_AGENT_ID": str(AGENT), "ZJTX_WECOM_SECRET": SECRET,
            "ZJTX_WECOM_API_BASE": "https://wecom.cq.gov.cn/"}
    settings = Settings.from_env(full)
    assert (settings.wecom_agent_id, settings.wecom_api_base) == (AGENT, "https://wecom.cq.gov.cn")
    assert SECRET not in repr(settings)
    assert Settings.from_env({}).wecom_api_base == "https://qyapi.weixin.qq.com"
    with pytest.raises(ConfigurationError, match="缺少 ZJTX_WECOM_SECRET"):
        Settings.from_env({k: v for k, v in full.items() if k != "ZJTX_WECOM_SECRET"})
    with pytest.raises(ConfigurationError, match="ZJTX_WECOM_AGENT_ID 应为应用的 AgentId"):
        Settings.from_env({**full, "ZJTX_WECOM_AGENT_ID": "一百"})


@pytest.mark.sqlite_only  # the pages, like tests/web/test_web.py
def test_the_admin_sets_a_users_wecom_account(engine):
    from web import create_app

    with engine.db.read() as session:
        user = session.scalar(select(User).where(User.username == liaison(LEAD)))
        user_id, department = user.id, user.department.name
    admin = Browser(create_app(services=engine, config={"TESTING": True}))
    admin.login("admin")
    assert 'name="wecom_userid"' in admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    form = {"display_name": "科技局联络员", "department": department, "roles": "liaison", "active": "on"}
    bad = admin.post(f"/admin/users/{user_id}", {**form, "wecom_userid": "李四 lisi"})
    assert bad.status_code == 400 and "「企业微信账号」应为" in bad.get_data(as_text=True)
    with engine.db.read() as session:
        assert session.get(User, user_id).wecom_userid == "LiSi"  # nothing changed
    assert admin.post(f"/admin/users/{user_id}", {**form, "wecom_userid": "zhang.san@qj"}).status_code == 302
    with engine.db.read() as session:
        assert session.get(User, user_id).wecom_userid == "zhang.san@qj"
