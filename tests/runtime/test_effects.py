"""Diagram code is pure: effects (circulars, measure reports) happen only through named operations,
which the engine runs for trusted process versions and users whose role allows them."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import PermissionDenied, WorkflowFailed
from engine.policy import procedures
from engine.storage.models import AuditRecord, Circular, MeasureReport

OPERATIONS = {op.name: op for p in procedures() for op in p.operations}  # what the policy registers

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="effects" name="越权操作" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="区科技局"><bpmn:flowNodeRef>t1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t1"/>
    <bpmn:userTask id="t1" name="办理"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="roles" value="liaison"/></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="act"/>
    {act}
    <bpmn:sequenceFlow id="f3" sourceRef="act" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
SCRIPT = ('<bpmn:scriptTask id="act" name="偷偷发布"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
          '<bpmn:script>{code}</bpmn:script></bpmn:scriptTask>')
SERVICE = ('<bpmn:serviceTask id="act" name="偷偷发布"><bpmn:extensionElements>'
           '<spiffworkflow:serviceTaskOperator id="{op}" resultVariable="out"><spiffworkflow:parameters>{params}'
           '</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
           '<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>')
VALUES = {"period_start": '"2026-10-01"', "period_end": '"2026-10-31"', "circular_id": "1",
          "circular_text": '"我写的通报"', "measure_no": "1", "lead_unit": '"区科技局"', "lead_is_written": "True",
          "progress_report": '"已完成"', "contributions": "[]", "assessment": '"已完成"', "assessment_comment": '""',
          "follow_up_report": "None", "notice": "{}",
          "meeting": "{}",
          # the triage's merge (engine/policy/dispatch/merging.py)
          "master": '"ZJTX-2026-00001"',
          # 挂牌督办's operations (engine/policy/supervision/listing.py)
          "item_key": '"ZJTX-2026-00001"', "reason": '"久拖未决"', "colour": '"红"', "deadline": '"2026-12-31"',
          "report_every": "5", "listing_id": "1", "instruction": "None", "due_date": '"2026-12-10"',
          "progress": '"按计划推进"', "text": '"我写的回复"', "report_id": "1", "decision": '"lift"', "comment": "None",
          "name_in_circular": "True",
          # 联席会议's operations (engine/policy/meetings/)
          "added_topics": "[]", "held_on": '"2026-12-10"', "place": '"区经济信息委会议室"', "chair": '"主持人"',
          "attendance": '"各成员单位"', "topics": "[]", "decisions": "[]",
          # the circular's objection window (engine/policy/circulars/objections.py, resolution.py)
          "department": '"区科技局"', "check_result": '"confirmed"', "objections": "[]", "resolutions": "[]"}
SCRIPT_CALLS = {
    "draft_circular": 'x = draft_circular("2026-10-01", "2026-10-31")',
    "circular_draft_text": "x = circular_draft_text(1)",
    "save_circular_text": 'save_circular_text(1, "我写的通报")',
    "publish_circular": "x = publish_circular(1)",
    "criticized_departments": "x = criticized_departments(1)",
    "record_measure_report": ('record_measure_report(1, "2026-07-01", "2026-09-30", "区科技局", True, "好", [], '
                              '"已完成", "", None)'),
}


def _deploy(zjtx, act: str, trusted: bool = False):
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"effects.bpmn": PROCESS.format(act=act).encode()}, trusted=trusted)


def _service(op: str) -> str:
    params = "".join(f'<spiffworkflow:parameter id="{p}" type="any" value="{VALUES[p].replace(chr(34), "&quot;")}"/>'
                     for p in OPERATIONS[op].params)
    return SERVICE.format(op=op, params=params)


def _effects(zjtx) -> tuple[int, int, int]:
    with zjtx.db.read() as session:
        return (session.scalar(select(func.count(Circular.id))),
                session.scalar(select(func.count(Circular.id)).where(Circular.number.is_not(None))),
                session.scalar(select(func.count(MeasureReport.id))))


@pytest.mark.parametrize("helper", list(SCRIPT_CALLS))
def test_a_script_cannot_call_an_effect_or_read_a_draft(zjtx, helper):
    _deploy(zjtx, SCRIPT.format(code=SCRIPT_CALLS[helper]))
    before = _effects(zjtx)
    started = zjtx.workflows.start("effects", {}, actor="admin")
    with pytest.raises(WorkflowFailed) as caught:
        zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert "偷偷发布" in caught.value.message and helper in caught.value.message
    assert _effects(zjtx) == before


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_an_uploaded_diagram_cannot_run_an_operation_even_for_an_administrator(zjtx, op):
    _deploy(zjtx, _service(op))
    before = _effects(zjtx)
    started = zjtx.workflows.start("effects", {}, actor="admin")
    with pytest.raises(PermissionDenied) as caught:
        zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert "偷偷发布" in caught.value.message and "可信" in caught.value.message
    assert _effects(zjtx) == before
    # The user's step was not saved either: the task is still open.
    assert [t["task"] for t in zjtx.queries.tasks(instance_id=started["id"])] == ["t1"]


def test_a_trusted_diagram_runs_an_operation_only_for_a_role_that_may(zjtx):
    _deploy(zjtx, _service("publish_circular"), trusted=True)
    started = zjtx.workflows.start("effects", {}, actor="admin")
    with pytest.raises(PermissionDenied) as caught:
        zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "science_tech_bureau_liaison")
    assert "领导小组办公室" in caught.value.message
    assert _effects(zjtx)[1] == 0


def test_an_administrator_can_mark_a_version_trusted_and_then_it_runs(zjtx):
    from engine.repository.trust import set_trusted

    _deploy(zjtx, _service("draft_circular"))
    with zjtx.db.write() as session:
        set_trusted(session, "effects", 1, True, "admin", zjtx.workflows.clock())
    started = zjtx.workflows.start("effects", {}, actor="admin")
    result = zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert result["instance"]["status"] == "completed"
    assert _effects(zjtx)[0] == 1
    show = zjtx.queries.show(started["id"])
    assert show["data"]["out"]["id"] >= 1 and "通报" in show["data"]["out"]["title"]
    assert "operation" in [h["action"] for h in show["history"]]
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(AuditRecord.id)).where(AuditRecord.action == "operation")) == 1


def test_a_designer_cannot_mark_a_version_trusted(zjtx):
    from engine.repository.trust import set_trusted

    _deploy(zjtx, _service("draft_circular"))
    with pytest.raises(PermissionDenied), zjtx.db.write() as session:
        set_trusted(session, "effects", 1, True, "designer", zjtx.workflows.clock())


def test_the_bundled_processes_are_trusted_and_an_upload_of_them_is_not(zjtx):
    from engine.storage.models import ProcessDefinition, ProcessVersion

    with zjtx.db.read() as session:
        trusted = dict(session.execute(select(ProcessDefinition.key, ProcessVersion.trusted).join(ProcessVersion)).all())
    assert trusted["evaluation_circular"] and trusted["measure_supervision"]
    text = (zjtx.settings.processes_dir / "evaluation_circular.bpmn").read_text(encoding="utf-8")
    with zjtx.db.write() as session:
        [result] = zjtx.registry.deploy(session, {"evaluation_circular.bpmn": text.replace("编号发布", "发布").encode()},
                                        deployed_by="designer")
    with zjtx.db.read() as session:
        assert session.get(ProcessVersion, result.version_id).trusted is False
