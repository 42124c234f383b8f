"""One failing timer never stops the others: each due instance is claimed and run on its own; a
poisoned one backs off, and after its attempts becomes an incident the administrators see."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from engine.scheduling.scheduler import Scheduler
from engine.storage.models import ProcessInstance, User
from notifications.inbox import unread_count

TIMED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="等一小时"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
    <bpmn:scriptTask id="after" name="到期处理"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _status(zjtx, instance_id):
    with zjtx.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        return row.status, row.failed_attempts, row.next_timer_at


def test_a_poisoned_timer_does_not_hold_back_the_healthy_ones_and_becomes_an_incident(zjtx):
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {
            "ok.bpmn": TIMED.format(key="timed_ok", name="正常定时", script="done = True").encode(),
            "bad.bpmn": TIMED.format(key="timed_bad", name="出错定时", script="x = 1 / 0").encode()})
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    scheduler = Scheduler(zjtx)
    with time_machine.travel(start, tick=False) as clock:
        poisoned = zjtx.workflows.start("timed_bad", {}, actor="admin")["id"]  # due first
        clock.shift(timedelta(seconds=1))
        healthy = [zjtx.workflows.start("timed_ok", {}, actor="admin")["id"] for _ in range(3)]
        clock.shift(timedelta(hours=1, seconds=1))
        scheduler.tick()
        assert [_status(zjtx, i)[0] for i in healthy] == ["completed"] * 3  # on the same tick
        status, attempts, retry_at = _status(zjtx, poisoned)
        assert (status, attempts) == ("running", 1) and retry_at > datetime.now(UTC)
        # It waits (longer each time) and is tried again; after the last attempt it is an incident.
        for _ in range(2):
            clock.shift(timedelta(minutes=5))
            scheduler.tick()
        status, attempts, retry_at = _status(zjtx, poisoned)
        assert (status, attempts, retry_at) == ("error", 3, None)
        [incident] = zjtx.incidents.list()
        assert incident["instance_id"] == poisoned and incident["element"] == "after"
        assert incident["element_name"] == "到期处理" and "division by zero" in incident["error"]
        with zjtx.db.read() as session:
            admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        assert unread_count(zjtx.db, admin_id) >= 1
        # Retrying puts it back in the timer queue; it fails again, backing off again.
        zjtx.incidents.retry(incident["id"], "admin")
        scheduler.tick()
        assert _status(zjtx, poisoned)[:2] == ("running", 1)


def test_a_timer_claimed_by_one_scheduler_is_not_fired_by_another(zjtx):
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"ok.bpmn": TIMED.format(key="timed_ok", name="正常定时",
                                                               script="done = True").encode()})
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        instance = zjtx.workflows.start("timed_ok", {}, actor="admin")["id"]
        clock.shift(timedelta(hours=2))
        with zjtx.db.read() as session:
            due_at = session.scalar(select(ProcessInstance.next_timer_at).where(ProcessInstance.id == instance))
        assert zjtx.timers._claim(instance, due_at, datetime.now(UTC) + timedelta(minutes=2))
        assert zjtx.timers.fire_due() == 0  # held by the first claim
        clock.shift(timedelta(minutes=3))  # the claim's lease ran out (its node died): taken over
        assert zjtx.timers.fire_due() == 1
        assert _status(zjtx, instance)[0] == "completed"
