"""Notifications are never lost: outbox in the same transaction, retries, dead letters, webhooks."""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from sqlalchemy import select

from engine.bootstrap import bootstrap
from engine.config import PROCESSES_DIR, Settings
from engine.identity.org import DepartmentDirectory, get_user
from engine.storage.models import InboxMessage, WebhookEndpoint
from notifications import channels
from notifications.channels import Channel, Recipient
from notifications.channels.http import post_json
from notifications.outbox import set_preference
from tests.helpers import notify, outbox, wait_for

pytestmark = pytest.mark.sqlite_only
def test_smtp_down_then_back_every_message_is_delivered_once(mailing_zjtx, smtp):
    zjtx = mailing_zjtx
    smtp.stop()
    users = ["science_tech_bureau_liaison", "science_tech_bureau_head", "office"]
    with time_machine.travel(datetime(2026, 10, 10, 1, 0, tzinfo=UTC), tick=False) as clock:
        notify(zjtx, "esc:a", users)
        notify(zjtx, "esc:b", users[:1])
        assert zjtx.deliverer.deliver_due() == 0
        rows = outbox(zjtx)
        assert [(m.status, m.attempts) for m in rows] == [("pending", 1)] * 4
        assert "邮件发送失败" in rows[0].last_error
        clock.shift(timedelta(seconds=30))
        assert zjtx.deliverer.deliver_due() == 0  # still backing off (60 s after the first failure)
        smtp.start()
        clock.shift(timedelta(seconds=31))
        assert zjtx.deliverer.deliver_due() == 4
        clock.shift(timedelta(hours=1))
        assert zjtx.deliverer.deliver_due() == 0
    keys = sorted(m["X-ZJTX-Key"] for _, m in smtp.messages)
    assert keys == sorted(f"esc:{k}:email:{u}" for k, u in
                          [("a", _id(zjtx, users[0])), ("a", _id(zjtx, users[1])), ("a", _id(zjtx, users[2])),
                           ("b", _id(zjtx, users[0]))])
    [(rcpts, message)] = [(r, m) for r, m in smtp.messages if m["X-ZJTX-Key"].startswith("esc:b")]
    assert rcpts == ["science_tech_bureau_liaison@zjtx.qianjiang.example"]
    assert message["Subject"].startswith("【催办】某公司：用地问题")
    assert "请立即办理" in message.get_content()


def _id(zjtx, username: str) -> int:
    with zjtx.db.read() as session:
        return get_user(session, username).id


def test_failed_deliveries_back_off_then_become_dead_letters_an_admin_can_retry(mailing_zjtx, smtp):
    zjtx = mailing_zjtx  # four tries at most, 60 s doubling
    smtp.stop()
    notify(zjtx, "esc:dead", ["office"])
    with time_machine.travel(datetime(2026, 10, 10, 1, 0, tzinfo=UTC), tick=False) as clock:
        waits = []
        for _ in range(4):
            [row] = outbox(zjtx)
            waits.append(row.next_attempt_at)
            clock.move_to(row.next_attempt_at + timedelta(seconds=1))
            zjtx.deliverer.deliver_due()
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(waits[1:])]
        assert gaps[0] == pytest.approx(120 + 1, abs=2) and gaps[1] == pytest.approx(240 + 1, abs=2)
        [row] = outbox(zjtx)
        assert (row.status, row.attempts) == ("dead", 4)
        clock.shift(timedelta(days=1))
        assert zjtx.deliverer.deliver_due() == 0
        smtp.start()
        assert zjtx.deliverer.retry(row.id) is True
        assert zjtx.deliverer.retry(row.id) is False  # it is no longer dead
        assert zjtx.deliverer.deliver_due() == 1
    assert len(smtp.messages) == 1 and outbox(zjtx)[0].status == "sent"


def test_a_crash_after_claiming_is_delivered_after_the_lease(mailing_zjtx, smtp):
    zjtx = mailing_zjtx
    notify(zjtx, "esc:crash", ["office"])
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        claimed = zjtx.deliverer._claim(10)  # the process dies here, before sending
        assert len(claimed) == 1 and outbox(zjtx)[0].status == "sending"
        assert zjtx.deliverer.deliver_due() == 0  # leased to the dead process
        clock.shift(timedelta(seconds=121))
        assert zjtx.deliverer.deliver_due() == 1
    assert [m["X-ZJTX-Key"] for _, m in smtp.messages] == [f"esc:crash:email:{_id(zjtx, 'office')}"]


def test_a_message_whose_lease_ran_out_is_not_sent_again_by_the_run_that_claimed_it(mailing_zjtx, smtp):
    """Scheduler A claims a batch and stalls (a slow mail server, a long pause) past the lease;
    scheduler B takes the messages and sends them; when A resumes it must not send them again."""
    from notifications.delivery import Deliverer

    zjtx = mailing_zjtx
    notify(zjtx, "esc:stall", ["office", "dispatcher"])
    b = zjtx.deliverer
    a = Deliverer(zjtx.db, b.channels, b.clock, lease_seconds=b.lease)
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        stalled = a._claim(10)
        assert len(stalled) == 2
        clock.shift(timedelta(seconds=121))
        assert b.deliver_due() == 2
        a._claim = lambda limit: stalled  # A carries on with the batch it claimed before the stall
        assert a.deliver_due() == 0
    assert sorted(m["X-ZJTX-Key"] for _, m in smtp.messages) == sorted(
        f"esc:stall:email:{_id(zjtx, u)}" for u in ("office", "dispatcher"))
    assert {m.status for m in outbox(zjtx)} == {"sent"}


def test_preferences_choose_the_channels(mailing_zjtx, smtp):
    zjtx = mailing_zjtx
    with zjtx.db.write() as session:
        set_preference(session, get_user(session, "office").id, "email", False)
    recipients = notify(zjtx, "esc:pref", ["office", "dispatcher"])
    assert {"channel": "email", "to": "office@zjtx.qianjiang.example"} not in recipients
    assert {"channel": "inbox", "to": "office"} in recipients
    assert [m.address for m in outbox(zjtx)] == ["dispatcher@zjtx.qianjiang.example"]
    with zjtx.db.read() as session:
        assert session.scalar(select(InboxMessage.title).where(InboxMessage.key.like("esc:pref:inbox:%"))) \
            .startswith("【催办】")


class Receiver:
    """A real HTTP server on loopback that records JSON posts and answers with a chosen status."""

    def __init__(self):
        self.posts: list[tuple[dict, dict]] = []
        self.status = 200
        self.answer = b'{"errcode": 0}'
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_webhooks_get_json_and_group_robot_text(zjtx, receiver):
    with zjtx.db.write() as session:
        directory = DepartmentDirectory(session)
        session.add(WebhookEndpoint(name="科技局工作群", url=receiver.url + "?robot", format="wecom",
                                    department_id=directory.get("区科技局").id))
        session.add(WebhookEndpoint(name="督办系统", url=receiver.url, format="json"))
        session.add(WebhookEndpoint(name="财政局工作群", url=receiver.url + "?other", format="wecom",
                                    department_id=directory.get("区财政局").id))
    notify(zjtx, "esc:hook", ["office"])
    assert zjtx.deliverer.deliver_due() == 2
    by_format = {("msgtype" in body): (headers, body) for headers, body in receiver.posts}
    headers, robot = by_format[True]
    assert robot["msgtype"] == "text" and robot["text"]["content"].startswith("【催办】某公司：用地问题")
    headers, plain = by_format[False]
    assert plain["data"] == {"level": 2} and plain["link"] == "http://127.0.0.1:5000/tasks/1"
    assert headers["Idempotency-Key"] == plain["key"]


def test_a_failing_webhook_is_retried(zjtx, receiver):
    with zjtx.db.write() as session:
        session.add(WebhookEndpoint(name="群", url=receiver.url, format="dingtalk"))
    notify(zjtx, "esc:retry", [], department=None)
    receiver.answer = b'{"errcode": 310000, "errmsg": "keywords not in content"}'
    assert zjtx.deliverer.deliver_due() == 0
    [row] = outbox(zjtx)
    assert row.status == "pending" and "310000" in row.last_error
    receiver.answer = b'{"errcode": 0}'
    receiver.status = 500
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        assert zjtx.deliverer.deliver_due() == 0
        assert "HTTP 500" in outbox(zjtx)[0].last_error
    receiver.status = 200
    with time_machine.travel(outbox(zjtx)[0].next_attempt_at + timedelta(seconds=1), tick=False):
        assert zjtx.deliverer.deliver_due() == 1
    assert len(receiver.posts) == 3


def test_a_slow_receiver_does_not_hold_back_escalations(database_url, receiver, make_engine):
    """Deliveries run as their own scheduler job: while a webhook takes seconds to answer, a task
    falling due is still urged on time."""
    from engine.scheduling.scheduler import Scheduler
    from engine.storage.models import Escalation, HumanTask
    from tests.helpers import Item

    zjtx = make_engine(database_url, tick_seconds=0.2)
    scheduler = Scheduler(zjtx)
    try:
        item = Item(zjtx)
        item.accept()
        task_id = item.dispatch("区科技局")["instance"]["open_tasks"][0]["id"]
        release = threading.Event()
        slow = receiver.server.RequestHandlerClass.do_POST

        def do_post(handler):  # the receiver keeps the sender waiting until released
            release.wait(120)
            slow(handler)

        receiver.server.RequestHandlerClass.do_POST = do_post
        with zjtx.db.write() as session:
            session.add(WebhookEndpoint(name="慢的群", url=receiver.url, format="json"))
        notify(zjtx, "esc:slow", [], department=None)
        due = datetime.now(UTC) + timedelta(seconds=1.5)
        with zjtx.db.write() as session:
            task = session.get(HumanTask, task_id)
            task.due_at, task.next_escalation_at, task.escalation_level, task.warn_before_days = due, due, 1, 0
        scheduler.start_background()

        def fired_at():
            with zjtx.db.read() as session:
                return session.scalar(select(Escalation.fired_at).where(Escalation.task_id == task_id))
        wait_for(fired_at, timeout=60)  # the real scheduler threads run: wait on the urging, not for an interval
        assert not receiver.posts  # the webhook call was still waiting all along: it did not hold the urging back
        release.set()
    finally:
        scheduler.shutdown()
        zjtx.close()


@dataclass(frozen=True)
class SmsSettings(Settings):
    """The settings of the SMS channel below, as a deployment would add them to engine.config.Settings."""

    sms_gateway_url: str | None = None
    sms_numbers: dict = field(default_factory=dict)  # user name → mobile number (no such column in the tests)


class SmsChannel(Channel):
    """A channel defined outside the notifications package: an SMS gateway that takes

    ``POST <sms_gateway_url>`` with ``Content-Type: application/json; charset=utf-8`` and
    ``Idempotency-Key: <key>``, body ``{"to": "<mobile number>", "text": "<subject>\\n<body>", "key": "<key>"}``;
    any status but 2xx is a failed delivery."""

    name = "sms"
    label = "短信"

    def __init__(self, url: str, numbers: dict):
        self.url, self.numbers = url, numbers

    @classmethod
    def from_settings(cls, settings):
        url = getattr(settings, "sms_gateway_url", None)
        return cls(url, settings.sms_numbers) if url else None

    def recipients(self, session, message, users, department_id):
        return [Recipient(target=str(u.id), address=self.numbers[u.username], shown=self.numbers[u.username],
                          user_id=u.id) for u in users if u.username in self.numbers]

    def deliver(self, message):
        post_json(self.url, {"to": message.address, "text": f"{message.subject}\n{message.body}", "key": message.key},
                  message.key, timeout=5, what="短信网关")


@pytest.fixture
def sms_zjtx(database_url, receiver, make_engine):
    """An engine with a test SMS channel registered in place of the product's (the registry, not Notifier or
    Deliverer, knows of it); the registry is restored afterwards."""
    make_engine(database_url).close()  # the database, from the template
    before = list(channels.REGISTERED)  # the product's own SMS channel comes back afterwards
    channels.register(SmsChannel)
    try:
        services = bootstrap(SmsSettings(database_url=database_url, processes_dir=PROCESSES_DIR,
                                         sms_gateway_url=receiver.url, delivery_max_attempts=2,
                                         sms_numbers={"office": "13800000001", "dispatcher": "13800000002"}))
        yield services
        services.close()
    finally:
        channels.REGISTERED[:] = before


def test_a_channel_registered_from_outside_delivers_through_the_outbox(sms_zjtx, receiver):
    zjtx = sms_zjtx
    assert "sms" in zjtx.deliverer.channels and "sms" in [c.name for c in zjtx.notifier.channels]
    with zjtx.db.write() as session:
        set_preference(session, get_user(session, "office").id, "sms", False)  # office switches SMS off
    recipients = notify(zjtx, "esc:sms", ["office", "dispatcher"])
    assert {"channel": "sms", "to": "13800000002"} in recipients
    assert {"channel": "sms", "to": "13800000001"} not in recipients
    assert {"channel": "inbox", "to": "office"} in recipients  # the other channels are untouched
    [row] = outbox(zjtx)
    key = f"esc:sms:sms:{_id(zjtx, 'dispatcher')}"
    assert (row.channel, row.address, row.key, row.status) == ("sms", "13800000002", key, "pending")
    assert zjtx.deliverer.deliver_due() == 1
    [(headers, body)] = receiver.posts
    assert headers["Content-Type"] == "application/json; charset=utf-8" and headers["Idempotency-Key"] == key
    assert body["to"] == "13800000002" and body["key"] == key
    assert body["text"].startswith("【催办】某公司：用地问题：「办理答复」已到期未办结\n") and "请立即办理" in body["text"]
    assert outbox(zjtx)[0].status == "sent"


def test_a_registered_channel_that_fails_is_retried_then_reported_by_its_label(sms_zjtx, receiver):
    zjtx = sms_zjtx
    receiver.status = 503
    notify(zjtx, "esc:sms-down", ["dispatcher"], department=None)
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        assert zjtx.deliverer.deliver_due() == 0
        [row] = outbox(zjtx)
        assert (row.status, row.attempts) == ("pending", 1) and "短信网关 返回 HTTP 503" in row.last_error
        clock.move_to(row.next_attempt_at + timedelta(seconds=1))
        assert zjtx.deliverer.deliver_due() == 0
    assert outbox(zjtx)[0].status == "dead"
    [incident] = zjtx.incidents.list()
    assert incident["kind"] == "delivery" and "通过短信发送到 13800000002" in incident["error"]


def test_an_unregistered_channel_is_not_a_preference():
    with pytest.raises(ValueError):
        set_preference(None, 1, "fax", False)
