"""Incidents: what the engine kept failing to do on its own reaches the administrators, who retry or
cancel it; and one failing thing never holds back the others."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from engine.errors import Conflict
from engine.identity.org import get_user
from engine.monitoring.incidents import RetryFailed
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import (
    AuditRecord,
    HumanTask,
    InboxMessage,
    Incident,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    ProcessSchedule,
    ProcessVersion,
)
from tests.helpers import SHOTS, TIMER_PROCESS, Browser, User, deploy_timed, notify, outbox

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
ERROR = "流程执行出错：任务「两小时未答复」（timeout）：name 'x' is not defined"
DETAIL = "Traceback (most recent call last):\n  ...\nNameError: name 'x' is not defined"

# Starts one report per measure; the script divides by (measure_no - 3), so measure 3's start fails.
POISONED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="poisoned_report" name="措施报告（测试）" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="区科技局">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>share</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>report</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formJsonSchemaFilename" value="measure_report_start.schema.json"/>
    </spiffworkflow:properties></bpmn:extensionElements><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="share"/>
    <bpmn:scriptTask id="share" name="计算份额"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>share = SHARE</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="share" targetRef="report"/>
    <bpmn:userTask id="report" name="报送进展"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="report" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def deploy_poisoned(zjtx, script: str = "100 / (measure_no - 3)"):
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"poisoned_report.bpmn": POISONED.replace("SHARE", script).encode()})


def fail(zjtx, instance_id: int, **kwargs) -> bool:
    """The runtime's call when a timer of the instance failed (in a fresh transaction)."""
    with zjtx.db.write() as session:
        instance = session.get(ProcessInstance, instance_id)
        return zjtx.incidents.instance_failed(session, instance, "timeout", "两小时未答复", ERROR, DETAIL, **kwargs)


def instance(zjtx, instance_id: int) -> ProcessInstance:
    with zjtx.db.read() as session:
        return session.get(ProcessInstance, instance_id)


def incidents(zjtx, **filters) -> list[Incident]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(Incident).filter_by(**filters).order_by(Incident.id)))


def admin_inbox(zjtx) -> list[InboxMessage]:
    with zjtx.db.read() as session:
        admin = get_user(session, "admin")
        return list(session.scalars(select(InboxMessage).where(InboxMessage.user_id == admin.id,
                                                               InboxMessage.key.like("incident:%"))))


def actions(zjtx, instance_id: int | None) -> list[str]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(AuditRecord.action).where(AuditRecord.instance_id == instance_id)
                                    .order_by(AuditRecord.id)))


def test_a_failing_timer_waits_longer_each_time_then_becomes_an_incident_the_admins_hear_of(zjtx):
    deploy_timed(zjtx)
    with time_machine.travel(T0, tick=False) as clock:
        failing = zjtx.workflows.start("timed", {}, actor="admin")["id"]
        other = zjtx.workflows.start("timed", {}, actor="admin")["id"]
        clock.shift(timedelta(hours=2, minutes=1))
        now = datetime.now(UTC)
        assert fail(zjtx, failing) is False
        assert instance(zjtx, failing).next_timer_at == now + timedelta(seconds=60)
        # The failing instance waits; the other one's timer fires meanwhile.
        assert zjtx.timers.fire_due() == 1
        assert [t["task"] for t in zjtx.queries.tasks(instance_id=other)] == ["late"]
        assert fail(zjtx, failing) is False
        row = instance(zjtx, failing)
        assert row.next_timer_at == now + timedelta(seconds=120)
        assert (row.failed_attempts, row.last_error, row.status) == (2, ERROR, "running")
        assert incidents(zjtx) == [] and admin_inbox(zjtx) == []
        assert fail(zjtx, failing) is True
    row = instance(zjtx, failing)
    assert (row.status, row.next_timer_at, row.failed_attempts) == ("error", None, 3)
    [incident] = incidents(zjtx)
    assert (incident.kind, incident.instance_id, incident.element, incident.element_name) == \
        ("timer", failing, "timeout", "两小时未答复")
    assert (incident.error, incident.detail, incident.attempts, incident.resolved_at) == (ERROR, DETAIL, 3, None)
    assert "incident" in actions(zjtx, failing)
    [notice] = admin_inbox(zjtx)
    assert notice.link.endswith(f"/admin/incidents/{incident.id}")
    assert "异常事件" in notice.title and ERROR in notice.body and "重试" in notice.body
    assert zjtx.incidents.count_open() == 1
    [listed] = zjtx.incidents.list()
    assert listed["business_key"] == row.business_key and listed["created_local"].utcoffset() == timedelta(hours=8)


def test_a_timer_whose_path_keeps_failing_never_holds_back_the_others(zjtx):
    """Through the scheduler: the failing instance backs off and becomes an incident; the other's timer fires."""
    broken = TIMER_PROCESS.replace('id="timed" name="限时答复"', 'id="timed_broken" name="限时答复（坏）"').replace(
        '<bpmn:sequenceFlow id="f3" sourceRef="timeout" targetRef="late"/>',
        '<bpmn:sequenceFlow id="f3" sourceRef="timeout" targetRef="oops"/>'
        '<bpmn:scriptTask id="oops" name="超时处理"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>'
        '<bpmn:script>late = 1 / 0</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="f5" sourceRef="oops" targetRef="late"/>').replace(
        '<bpmn:userTask id="late" name="超时说明"><bpmn:incoming>f3</bpmn:incoming>',
        '<bpmn:userTask id="late" name="超时说明"><bpmn:incoming>f5</bpmn:incoming>').replace(
        "<bpmn:flowNodeRef>timeout</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>timeout</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>oops</bpmn:flowNodeRef>")
    deploy_timed(zjtx)
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"timed_broken.bpmn": broken.encode()})
    with time_machine.travel(T0, tick=False) as clock:
        failing = zjtx.workflows.start("timed_broken", {}, actor="admin")["id"]
        other = zjtx.workflows.start("timed", {}, actor="admin")["id"]
        clock.shift(timedelta(hours=2, minutes=1))
        Scheduler(zjtx).run_until_idle()
        assert [t["task"] for t in zjtx.queries.tasks(instance_id=other)] == ["late"]
        assert instance(zjtx, failing).failed_attempts == 1 and incidents(zjtx) == []
        for _ in range(4):
            clock.shift(timedelta(minutes=5))
            Scheduler(zjtx).run_until_idle()
    row = instance(zjtx, failing)
    assert (row.status, row.next_timer_at) == ("error", None)
    [incident] = incidents(zjtx)
    assert (incident.kind, incident.instance_id, incident.element) == ("timer", failing, "oops")
    assert incident.element_name == "超时处理" and "ZeroDivisionError" in incident.error
    assert len(admin_inbox(zjtx)) == 1


def test_the_incident_is_emailed_to_admins_who_have_an_address(mailing_zjtx):
    zjtx = mailing_zjtx
    deploy_timed(zjtx)
    failing = zjtx.workflows.start("timed", {}, actor="admin")["id"]
    assert fail(zjtx, failing, max_attempts=1) is True
    [incident] = incidents(zjtx)
    with zjtx.db.read() as session:
        mails = list(session.scalars(select(OutboxMessage).where(OutboxMessage.key.like("incident:%"))))
        admin = get_user(session, "admin")
    assert [(m.channel, m.address) for m in mails] == [("email", admin.email)]
    assert f"/admin/incidents/{incident.id}" in mails[0].body


def test_retry_puts_the_instance_back_in_the_timer_queue(zjtx):
    deploy_timed(zjtx)
    with time_machine.travel(T0, tick=False) as clock:
        failing = zjtx.workflows.start("timed", {}, actor="admin")["id"]
        clock.shift(timedelta(hours=3))
        assert fail(zjtx, failing, max_attempts=1) is True
        assert Scheduler(zjtx).run_until_idle().get("timers", 0) == 0  # stopped: no tick takes it
        [incident] = incidents(zjtx)
        result = zjtx.incidents.retry(incident.id, "admin")
        assert (result["resolution"], result["resolved_by"], result["open"]) == ("retried", "admin", False)
        row = instance(zjtx, failing)
        assert (row.status, row.failed_attempts, row.last_error) == ("running", 0, None)
        assert row.next_timer_at == datetime.now(UTC)
        assert Scheduler(zjtx).run_until_idle()["timers"] == 1  # the scheduler's timer job takes it
    assert [t["task"] for t in zjtx.queries.tasks(instance_id=failing)] == ["late"]
    assert actions(zjtx, failing).count("incident_retried") == 1
    with pytest.raises(Conflict) as caught:
        zjtx.incidents.retry(incident.id, "admin")
    assert "已重试" in caught.value.message and "不能再重试或取消" in caught.value.message
    assert zjtx.incidents.count_open() == 0


def test_cancel_cancels_the_instance_and_its_open_tasks(zjtx):
    deploy_timed(zjtx)
    failing = zjtx.workflows.start("timed", {}, actor="admin")["id"]
    assert fail(zjtx, failing, max_attempts=1) is True
    [incident] = incidents(zjtx)
    result = zjtx.incidents.cancel(incident.id, "admin")
    assert result["resolution"] == "cancelled" and result["instance_status"] == "cancelled"
    assert [t["status"] for t in zjtx.queries.tasks(instance_id=failing, status="all")] == ["cancelled"]
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(HumanTask.id)).where(
            HumanTask.instance_id == failing, HumanTask.next_escalation_at.is_not(None))) == 0
    assert actions(zjtx, failing)[-2:] == ["task_cancelled", "incident_cancelled"]
    with pytest.raises(Conflict):
        zjtx.incidents.cancel(incident.id, "admin")
    with pytest.raises(Conflict):
        zjtx.incidents.retry(incident.id, "admin")


def test_only_an_administrator_resolves_incidents(zjtx):
    from engine.errors import PermissionDenied

    deploy_timed(zjtx)
    failing = zjtx.workflows.start("timed", {}, actor="admin")["id"]
    fail(zjtx, failing, max_attempts=1)
    [incident] = incidents(zjtx)
    with pytest.raises(PermissionDenied):
        zjtx.incidents.cancel(incident.id, "dispatcher")
    assert incidents(zjtx)[0].resolved_at is None and instance(zjtx, failing).status == "error"


def _run_poisoned_schedule(zjtx, clock) -> None:
    deploy_poisoned(zjtx)
    zjtx.schedules.save("措施报告测试", "poisoned_report", "cron:0 9 * * *", {"for_each": "measure"})
    clock.shift(timedelta(days=1))
    assert zjtx.schedules.run_due() == 29  # 30 measures, number 3 fails


def test_a_scheduled_run_with_one_poisoned_start_starts_the_others_and_keeps_its_data(zjtx):
    with time_machine.travel(T0, tick=False) as clock:
        _run_poisoned_schedule(zjtx, clock)
        assert zjtx.schedules.run_due() == 0  # the run was claimed once
    with zjtx.db.read() as session:
        started = list(session.scalars(select(ProcessInstance.id).join(ProcessVersion).join(ProcessDefinition)
                                       .where(ProcessDefinition.key == "poisoned_report")))
        schedule = session.scalar(select(ProcessSchedule).where(ProcessSchedule.name == "措施报告测试"))
        recorded = session.scalar(select(func.count(AuditRecord.id)).where(AuditRecord.action == "scheduled_start"))
    assert len(started) == 29 and recorded == 29
    assert schedule.last_instance_id == max(started)
    assert "30 个发起中 1 个失败" in schedule.last_error and "异常事件" in schedule.last_error
    [incident] = incidents(zjtx)
    assert (incident.kind, incident.schedule_id, incident.instance_id) == ("schedule", schedule.id, None)
    assert incident.data["process_key"] == "poisoned_report"
    assert incident.data["start_data"]["measure_no"] == 3
    assert incident.data["start_data"]["period_start"] and "ZeroDivisionError" in incident.detail
    assert incident.error.startswith("流程执行出错") and incident.element == "share"
    [notice] = admin_inbox(zjtx)
    assert "措施报告测试" in notice.body


def test_retrying_the_failed_scheduled_start_starts_it_once_the_cause_is_fixed(zjtx):
    with time_machine.travel(T0, tick=False) as clock:
        _run_poisoned_schedule(zjtx, clock)
    [incident] = incidents(zjtx)
    with pytest.raises(RetryFailed) as caught:
        zjtx.incidents.retry(incident.id, "admin")  # not fixed yet: it fails again and stays open
    assert "重新发起未成功" in caught.value.message
    [again] = incidents(zjtx)
    assert (again.resolved_at, again.attempts) == (None, 2)
    deploy_poisoned(zjtx, "1")  # the designer fixes the script
    result = zjtx.incidents.retry(incident.id, "admin")
    assert result["resolution"] == "retried" and result["started"]["title"].startswith("措施 3 进展报告")
    new_id = result["started"]["id"]
    assert [t["task"] for t in zjtx.queries.tasks(instance_id=new_id)] == ["report"]
    assert actions(zjtx, new_id)[-2:] == ["scheduled_start", "incident_retried"]
    with pytest.raises(Conflict):
        zjtx.incidents.retry(incident.id, "admin")


def test_a_dead_letter_becomes_a_delivery_incident_told_in_the_inbox_only(mailing_zjtx, smtp):
    zjtx = mailing_zjtx  # four tries at most
    smtp.stop()
    notify(zjtx, "esc:dead", ["office"])
    with time_machine.travel(datetime(2026, 10, 10, 1, 0, tzinfo=UTC), tick=False) as clock:
        for _ in range(4):
            [row] = outbox(zjtx)
            clock.move_to(row.next_attempt_at + timedelta(seconds=1))
            zjtx.deliverer.deliver_due()
        [row] = outbox(zjtx)  # no e-mail about the failed e-mail
        assert row.status == "dead"
        [incident] = incidents(zjtx)
        assert (incident.kind, incident.message_id, incident.attempts) == ("delivery", row.id, 4)
        assert row.subject in incident.error and "邮件发送失败" in incident.detail
        assert len(admin_inbox(zjtx)) == 1
        smtp.start()
        assert zjtx.incidents.retry(incident.id, "admin")["resolution"] == "retried"
        assert outbox(zjtx)[0].status == "pending"
        assert zjtx.deliverer.deliver_due() == 1
    assert outbox(zjtx)[0].status == "sent" and zjtx.incidents.count_open() == 0


# -- the admin pages ------------------------------------------------------------------------------

@pytest.fixture
def pages(zjtx):
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})

    def logged(user=None):
        browser = Browser(app)
        if user:
            assert browser.login(user).status_code == 302
        return browser
    return logged


def timer_incidents(zjtx, n: int) -> list[int]:
    deploy_timed(zjtx)
    ids = []
    for _ in range(n):
        ids.append(zjtx.workflows.start("timed", {}, actor="admin")["id"])
        fail(zjtx, ids[-1], max_attempts=1)
    return ids


@pytest.mark.sqlite_only
def test_the_admin_sees_incidents_and_retries_and_cancels_them_on_the_pages(zjtx, pages):
    first, second = timer_incidents(zjtx, 2)
    [a, b] = incidents(zjtx)
    admin = pages("admin")
    index = admin.get("/admin/").get_data(as_text=True)
    assert "有 2 个异常事件待处理" in index and 'href="/admin/incidents"' in index
    listing = admin.get("/admin/incidents").get_data(as_text=True)
    key = instance(zjtx, first).business_key
    assert f'href="/items/{first}">{key}</a>' in listing and "两小时未答复" in listing
    assert "name &#39;x&#39; is not defined" in listing and "待处理" in listing
    assert listing.index(f"/admin/incidents/{b.id}") < listing.index(f"/admin/incidents/{a.id}")  # newest first
    detail = admin.get(f"/admin/incidents/{a.id}").get_data(as_text=True)
    assert "Traceback (most recent call last)" in detail and "NameError" in detail  # the original text
    assert "下一步" in detail and "重试" in detail and "取消" in detail and "北京时间" in detail

    response = admin.post(f"/admin/incidents/{a.id}/retry")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/incidents/{a.id}")
    assert "已放回定时队列" in admin.get(f"/admin/incidents/{a.id}").get_data(as_text=True)
    assert instance(zjtx, first).status == "running"
    again = admin.post(f"/admin/incidents/{a.id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "不能再重试或取消" in again

    unconfirmed = admin.post(f"/admin/incidents/{b.id}/cancel", follow_redirects=True).get_data(as_text=True)
    assert "请先勾选确认" in unconfirmed and instance(zjtx, second).status == "error"
    done = admin.post(f"/admin/incidents/{b.id}/cancel", {"confirm": "yes"}, follow_redirects=True)
    assert f"事项 {instance(zjtx, second).business_key} 及其未办结的待办已取消" in done.get_data(as_text=True)
    assert instance(zjtx, second).status == "cancelled"

    assert "没有待处理的异常事件" in admin.get("/admin/incidents").get_data(as_text=True)
    everything = admin.get("/admin/incidents?show=all").get_data(as_text=True)
    assert "已重试（admin）" in everything and "已取消（admin）" in everything
    no_token = admin.client.post(f"/admin/incidents/{a.id}/cancel", data={"confirm": "yes"})
    assert no_token.status_code == 400


@pytest.mark.sqlite_only
def test_the_incident_list_pages_by_twenty(zjtx, pages):
    timer_incidents(zjtx, 21)
    admin = pages("admin")
    first = admin.get("/admin/incidents").get_data(as_text=True)
    assert first.count("查看并处理") == 20 and "page=2" in first
    second = admin.get("/admin/incidents?page=2").get_data(as_text=True)
    assert second.count("查看并处理") == 1 and "page=1" in second and "page=3" not in second


@pytest.mark.sqlite_only
def test_incident_pages_are_for_administrators_only(zjtx, pages):
    timer_incidents(zjtx, 1)
    [incident] = incidents(zjtx)
    for user in ("dispatcher", "designer"):
        other = pages(user)
        assert other.get("/admin/incidents").status_code == 403
        assert other.get(f"/admin/incidents/{incident.id}").status_code == 403
        assert other.post(f"/admin/incidents/{incident.id}/retry").status_code == 403
        assert other.post(f"/admin/incidents/{incident.id}/cancel", {"confirm": "yes"}).status_code == 403
    assert pages().get("/admin/incidents").status_code == 302  # to the login
    assert incidents(zjtx)[0].resolved_at is None
    assert pages("admin").get("/admin/incidents/999").status_code == 404


@pytest.mark.sqlite_only
def test_an_administrator_marks_a_version_trusted_and_a_designer_cannot(zjtx, pages):
    deploy_timed(zjtx)

    def trusted() -> bool:
        with zjtx.db.read() as session:
            return session.scalar(select(ProcessVersion.trusted).join(ProcessDefinition)
                                  .where(ProcessDefinition.key == "timed"))

    designer = pages("designer")
    page = designer.get("/designer/").get_data(as_text=True)
    assert "未标记" in page and "/designer/timed/v1/trust" not in page
    assert designer.post("/designer/timed/v1/trust", {"trusted": "1"}).status_code == 403
    assert trusted() is False
    admin = pages("admin")
    assert "/designer/timed/v1/trust" in admin.get("/designer/").get_data(as_text=True)
    marked = admin.post("/designer/timed/v1/trust", {"trusted": "1"}, follow_redirects=True).get_data(as_text=True)
    assert "timed 第 1 版已标记为可信" in marked and trusted() is True
    admin.post("/designer/timed/v1/trust", {"trusted": "0"})
    assert trusted() is False
    assert admin.post("/designer/timed/v9/trust", {"trusted": "1"}).status_code == 404
    with zjtx.db.read() as session:
        records = list(session.execute(select(AuditRecord.action, AuditRecord.actor, AuditRecord.data)
                                       .where(AuditRecord.action.like("version_%")).order_by(AuditRecord.id)))
    assert [(a, who, d["process"], d["version"]) for a, who, d in records] == \
        [("version_trusted", "admin", "timed", 1), ("version_untrusted", "admin", "timed", 1)]


@pytest.mark.sqlite_only
def test_resending_a_dead_letter_from_the_outbox_page_closes_its_incident(mailing_zjtx, smtp):
    from web import create_app

    zjtx = mailing_zjtx
    with zjtx.db.write() as session:
        message = OutboxMessage(key="k:email:1", channel="email", address="x@example.org", subject="测试通知",
                                body="…", status="sending", attempts=3, next_attempt_at=datetime.now(UTC),
                                lease_until=datetime.now(UTC), created_at=datetime.now(UTC))
        session.add(message)
        session.flush()
        zjtx.deliverer.on_dead(session, message, "邮件发送失败：连接被拒绝")
        message.status = "dead"
    [incident] = incidents(zjtx)
    admin = Browser(create_app(services=zjtx, config={"TESTING": True}))
    admin.login("admin")
    page = admin.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert "测试通知" in page and "发送失败（死信）" in page and "x@example.org" in page
    done = admin.post("/admin/outbox?status=dead", {"id": str(message.id)}, follow_redirects=True)
    assert f"异常事件 #{incident.id} 已处理" in done.get_data(as_text=True)
    assert incidents(zjtx)[0].resolution == "retried" and outbox_status(zjtx, message.id) == "pending"


def outbox_status(zjtx, message_id: int) -> str:
    with zjtx.db.read() as session:
        return session.get(OutboxMessage, message_id).status


@pytest.mark.sqlite_only
@pytest.mark.browser
@pytest.mark.slow
def test_the_incident_pages_work_on_a_360_px_phone(chromium, server, zjtx):
    failing, _ = timer_incidents(zjtx, 2)
    [first, _] = incidents(zjtx)
    admin = User(chromium, server, "admin")
    page = admin.page
    page.set_viewport_size({"width": 360, "height": 740})
    for name, path in (("admin", "/admin/"), ("incidents", "/admin/incidents"),
                       ("incident", f"/admin/incidents/{first.id}")):
        page.goto(server + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"12-{name}-360px.png"), full_page=True)
    page.click("button:text-is('重试')")
    page.wait_for_selector(".flash:has-text('已放回定时队列')")
    assert instance(zjtx, failing).status == "running"
    assert not admin.foreign_requests() and not admin.errors
