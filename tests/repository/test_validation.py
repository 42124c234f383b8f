"""Validation before deployment: expressions, deadlines, DMN entries, the MIWG files, `zjtx validate`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from tests.helpers import CONFORMANCE, MINIMAL, USER_TASK

pytestmark = pytest.mark.sqlite_only
ROOT = Path(__file__).resolve().parents[2]


def problems(zjtx, files: dict[str, str]) -> list[dict]:
    with zjtx.db.read() as session:
        return zjtx.registry.validate(session, {k: v.encode() for k, v in files.items()})


def test_our_own_diagrams_pass(zjtx):
    files = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.bpmn")}
    files.update({p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")})
    assert problems(zjtx, files) == []


def test_a_condition_that_does_not_compile_is_reported_with_element_and_line(zjtx):
    broken = (ROOT / "processes" / "problem_dispatch.bpmn").read_text(encoding="utf-8").replace(
        'triage_decision == "accept"', 'triage_decision == = "accept"').replace(
        'item_status = "待研判"', 'item_status = ().__class__')
    found = problems(zjtx, {"problem_dispatch.bpmn": broken})
    by_element = {p["element"]: p for p in found}
    assert "语法错误" in by_element["triage_gateway"]["message"] and "通往「dispatch」的条件" in \
        by_element["triage_gateway"]["message"]
    assert by_element["triage_gateway"]["line"] and by_element["triage_gateway"]["file"] == "problem_dispatch.bpmn"
    assert "沙箱" in by_element["init_item"]["message"] and by_element["init_item"]["element_name"] == "立项登记"


def test_a_process_that_requires_deadlines_reports_tasks_without_one(zjtx):
    strict = MINIMAL.format(lane="区科技局", task=USER_TASK).replace(
        'isExecutable="true">', 'isExecutable="true"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="require_deadlines" value="true"/></spiffworkflow:properties>'
        '</bpmn:extensionElements>')
    [problem] = problems(zjtx, {"tiny.bpmn": strict})
    assert problem["element"] == "t1" and "没有期限" in problem["message"]
    assert problems(zjtx, {"tiny.bpmn": MINIMAL.format(lane="区科技局", task=USER_TASK)}) == []


def test_a_dmn_entry_that_does_not_compile_is_reported(zjtx):
    dmn = (ROOT / "processes" / "cultivation_decision.dmn").read_text(encoding="utf-8").replace(
        "<text>&gt;= 1</text>", "<text>&gt;= = 1</text>", 1)
    found = problems(zjtx, {"cultivation_decision.dmn": dmn, "tiny.bpmn": MINIMAL.format(lane="区科技局",
                                                                                         task=USER_TASK)})
    assert any("决策表 cultivation_decision 第 1 行" in p["message"] for p in found)


def test_library_messages_are_given_in_chinese(zjtx):
    if not CONFORMANCE.is_dir():
        pytest.skip("../shared/conformance 不存在")
    found = problems(zjtx, {"C.8.0.bpmn": (CONFORMANCE / "C.8.0.bpmn").read_text(encoding="utf-8")})
    assert found and all(p["message"] for p in found)
    store = problems(zjtx, {"B.1.0.bpmn": (CONFORMANCE / "B.1.0.bpmn").read_text(encoding="utf-8")})
    assert any("数据存储" in p["message"] for p in store)


def test_zjtx_validate_reports_and_exits_non_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    assert runner.invoke(main, ["seed", "--no-demo-users"]).exit_code == 0
    ok = runner.invoke(main, ["validate", str(ROOT / "processes" / "problem_dispatch.bpmn")])
    assert ok.exit_code == 0 and "校验通过" in ok.stdout
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<bpmn:definitions>", encoding="utf-8")
    refused = runner.invoke(main, ["validate", str(bad)])
    assert refused.exit_code == 1 and "XML 格式错误" in refused.stderr
    if CONFORMANCE.is_dir():
        for path in sorted(CONFORMANCE.glob("*.bpmn")):
            result = runner.invoke(main, ["validate", str(path), "--json"])
            assert result.exception is None or isinstance(result.exception, SystemExit), (path, result.exception)
            report = json.loads(result.stdout)
            assert report["ok"] or report["problems"], path


CAMUNDA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://bpmn.io/schema/bpmn"
  exporter="Camunda Modeler" exporterVersion="5.20.0">
  <bpmn:process id="camunda_review" name="材料审核" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <bpmn:userTask id="check" name="审核材料" camunda:candidateGroups="区科技局" camunda:assignee="someone">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="late" attachedToRef="check" cancelActivity="false">
      <bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="late" targetRef="late_end"/>
    <bpmn:endEvent id="late_end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="e1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >${approved == true &amp;&amp; score ge 60}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="e2">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >${!approved || score lt 60}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="e1"><bpmn:incoming>yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="e2"><bpmn:incoming>no</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_camunda_modeler_diagram_deploys_and_runs_without_editing(zjtx):
    from engine.repository.camunda import juel_to_python

    assert juel_to_python("${a == true && !b || c ne 'x'}") == "a == True and not b or c != 'x'"
    with zjtx.db.write() as session:
        [result] = zjtx.registry.deploy(session, {"review.bpmn": CAMUNDA.encode()})
    assert result.key == "camunda_review"
    started = zjtx.workflows.start("camunda_review", {}, actor="admin")
    [task] = started["open_tasks"]
    assert task["department"] == "区科技局"  # from camunda:candidateGroups
    with zjtx.db.read() as session:
        from engine.storage.models import ProcessInstance

        assert session.get(ProcessInstance, started["id"]).next_timer_at is not None  # PT2H, quoted


def test_deeply_nested_and_oversized_files_are_refused(zjtx):
    deep = '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">' + "<a>" * 5000 + \
        "</a>" * 5000 + "</bpmn:definitions>"
    [problem] = problems(zjtx, {"deep.bpmn": deep})
    assert "XML 格式错误" in problem["message"] and problem["file"] == "deep.bpmn"
    big = MINIMAL.format(lane="区科技局", task=USER_TASK).replace("</bpmn:definitions>",
                                                             "<!--" + "x" * (6 * 1024 * 1024) + "--></bpmn:definitions>")
    [problem] = problems(zjtx, {"big.bpmn": big})
    assert "文件过大" in problem["message"]
