"""Messages the engine delivers to a waiting instance (engine/runtime/messages.py): a catch event for a
registered message deploys, any other is refused; a message is delivered once, in the instance's own step
(the scheduler's, or right after the sender's commit), also when the instance reaches the wait only after
the message came; a message to an instance that has ended is not sent."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import DeploymentError
from engine.runtime import messages
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import AuditRecord, InstanceMessage
from tests.helpers import deploy

LANE = "区科技局"


def diagram(message_name: str = "master_closed") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="waits" name="等消息" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="{LANE}">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>prepare</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>wait</bpmn:flowNodeRef><bpmn:flowNodeRef>took</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>after</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="prepare"/>
    <bpmn:userTask id="prepare" name="准备"/>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="等主件">
      <bpmn:messageEventDefinition messageRef="m"><bpmn:extensionElements>
        <spiffworkflow:messageVariable>got</spiffworkflow:messageVariable>
      </bpmn:extensionElements></bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="took"/>
    <bpmn:scriptTask id="took" name="记下"><bpmn:script>answer = got["answer"]</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="took" targetRef="after"/>
    <bpmn:userTask id="after" name="后续"/>
    <bpmn:sequenceFlow id="f5" sourceRef="after" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
  <bpmn:message id="m" name="{message_name}"/>
</bpmn:definitions>"""


def send(zjtx, instance_id: int, key: str, answer: str = "已办结") -> bool:
    with zjtx.db.write() as session:
        return messages.send(session, instance_id, "master_closed", {"answer": answer}, key, zjtx.workflows.clock())


def open_tasks(zjtx, instance_id: int) -> list[str]:
    return [t["task"] for t in zjtx.queries.tasks(instance_id=instance_id)]


def test_only_a_message_the_engine_delivers_may_be_waited_for(zjtx):
    with pytest.raises(DeploymentError) as caught:
        deploy(zjtx, {"waits.bpmn": diagram("申请")})
    assert "本系统不投递消息/信号" in caught.value.message and "master_closed（" in caught.value.message
    deploy(zjtx, {"waits.bpmn": diagram()})  # a registered message: accepted


def test_a_message_sent_before_the_wait_is_delivered_once_when_the_instance_gets_there(zjtx):
    deploy(zjtx, {"waits.bpmn": diagram()})
    started = zjtx.workflows.start("waits", {}, actor="admin")
    instance_id = started["id"]
    assert send(zjtx, instance_id, "k1", "第一次") and not send(zjtx, instance_id, "k1", "又一次")  # once per key
    Scheduler(zjtx).run_until_idle()  # not waiting for it yet: it stays pending
    with zjtx.db.read() as session:
        assert session.scalar(select(InstanceMessage.delivered_at)) is None
    zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert open_tasks(zjtx, instance_id) == []  # at the wait; the message is there, the instance due now
    Scheduler(zjtx).run_until_idle()
    assert open_tasks(zjtx, instance_id) == ["after"]
    data = zjtx.queries.show(instance_id)["data"]
    assert data["answer"] == "第一次" and data["got"] == {"answer": "第一次"}
    with zjtx.db.read() as session:
        assert session.scalar(select(InstanceMessage.delivered_at)) is not None
        delivered = session.scalars(select(AuditRecord).where(AuditRecord.instance_id == instance_id,
                                                              AuditRecord.action == "message_delivered")).all()
    assert [a.data["message"] for a in delivered] == ["master_closed"]


def test_a_message_to_an_instance_that_has_ended_is_not_sent(zjtx):
    deploy(zjtx, {"waits.bpmn": diagram()})
    started = zjtx.workflows.start("waits", {}, actor="admin")
    zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert send(zjtx, started["id"], "k1")
    Scheduler(zjtx).run_until_idle()
    zjtx.workflows.complete(zjtx.queries.tasks(instance_id=started["id"])[0]["id"], {}, "admin")
    assert zjtx.queries.show(started["id"])["status"] == "completed"
    assert not send(zjtx, started["id"], "k2")
    with zjtx.db.read() as session:
        assert [m.key for m in session.scalars(select(InstanceMessage))] == ["k1"]
