"""Deployment refuses what this engine cannot run, naming the element and the reason in Chinese."""
from __future__ import annotations

import json
import re
from itertools import pairwise

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.policy import procedures
from tests.helpers import CONFORMANCE, MINIMAL, Browser, liaison

OPERATIONS = {op.name: op for p in procedures() for op in p.operations}  # what the policy registers

pytestmark = pytest.mark.sqlite_only

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">')
TOP = '<bpmn:message id="m" name="申请"/><bpmn:signal id="sg" name="撤回"/><bpmn:error id="err" name="退回" errorCode="back"/>' \
      '<bpmn:escalation id="esc" name="上报" escalationCode="up"/>'
START, END = '<bpmn:startEvent id="s"/>', '<bpmn:endEvent id="e"/>'
DEPT = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="department" value="区科技局"/>'
        '</spiffworkflow:properties></bpmn:extensionElements>')
WAITS = "本系统不投递消息/信号，流程会一直等待"
LOST = "发出的消息/信号不会送达任何流程"


def diagram(body: str, pid: str = "p", name: str = "测试流程") -> str:
    return f'{HEAD}{TOP}<bpmn:process id="{pid}" name="{name}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'


def chain(*nodes: str, prefix: str = "f") -> str:
    """The nodes, each connected to the next by a sequence flow (ids are the nodes' first id)."""
    ids = [re.search(r'id="([^"]+)"', n).group(1) for n in nodes]
    return "".join(nodes) + "".join(f'<bpmn:sequenceFlow id="{prefix}{i}" sourceRef="{a}" targetRef="{b}"/>'
                                    for i, (a, b) in enumerate(pairwise(ids)))


def user(task_id: str = "u", name: str = "办理", inner: str = "") -> str:
    return f'<bpmn:userTask id="{task_id}" name="{name}">{DEPT}{inner}</bpmn:userTask>'


def event(tag: str, event_id: str, name: str, definition: str, attrs: str = "") -> str:
    return f'<bpmn:{tag} id="{event_id}" name="{name}"{attrs}>{definition}</bpmn:{tag}>'


MESSAGE, SIGNAL = '<bpmn:messageEventDefinition messageRef="m"/>', '<bpmn:signalEventDefinition signalRef="sg"/>'
CONDITION = '<bpmn:conditionalEventDefinition><bpmn:condition>ready</bpmn:condition></bpmn:conditionalEventDefinition>'
TIMER = '<bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>'


def boundary(definition: str, attached: str = "u") -> str:
    return (chain(START, user(), END) + event("boundaryEvent", "b", "中途撤回", definition, f' attachedToRef="{attached}"')
            + '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="fb" sourceRef="b" targetRef="e2"/>')


def event_gateway(*catches: str) -> str:
    ends = "".join(f'<bpmn:endEvent id="end{i}"/>' for i in range(len(catches)))
    ids = [re.search(r'id="([^"]+)"', c).group(1) for c in catches]
    flows = "".join(f'<bpmn:sequenceFlow id="g{i}" sourceRef="g" targetRef="{c}"/>'
                    f'<bpmn:sequenceFlow id="h{i}" sourceRef="{c}" targetRef="end{i}"/>' for i, c in enumerate(ids))
    return chain(START, '<bpmn:eventBasedGateway id="g" name="等待结果"/>') + "".join(catches) + ends + flows


EVENT_SUBPROCESS = ('<bpmn:subProcess id="esp" triggeredByEvent="true">' +
                    chain(event("startEvent", "es", "收到撤回", MESSAGE), '<bpmn:endEvent id="ee"/>', prefix="ef")
                    + "</bpmn:subProcess>")

# (element refused, what the report must say, process body)
REFUSED = {
    "message start": ("s", f"消息开始事件：{WAITS}", chain(event("startEvent", "s", "收到申请", MESSAGE), user(), END)),
    "signal start": ("s", f"信号开始事件：{WAITS}", chain(event("startEvent", "s", "收到撤回", SIGNAL), user(), END)),
    "conditional start": ("s", "条件只在流程到达时判断一次", chain(event("startEvent", "s", "材料齐全", CONDITION), user(), END)),
    "message catch": ("c", f"消息中间捕获事件：{WAITS}",
                      chain(START, event("intermediateCatchEvent", "c", "等回复", MESSAGE), user(), END)),
    "signal catch": ("c", f"信号中间捕获事件：{WAITS}",
                     chain(START, event("intermediateCatchEvent", "c", "等通知", SIGNAL), user(), END)),
    "conditional catch": ("c", "不成立时不会再次判断，流程会一直等待",
                          chain(START, event("intermediateCatchEvent", "c", "等条件", CONDITION), user(), END)),
    "message boundary": ("b", f"消息边界事件：{WAITS}", boundary(MESSAGE)),
    "signal boundary": ("b", f"信号边界事件：{WAITS}", boundary(SIGNAL)),
    "conditional boundary": ("b", "条件边界事件：条件只在流程到达时判断一次", boundary(CONDITION)),
    "event sub-process start": ("es", f"消息事件子流程的开始事件：{WAITS}", chain(START, user(), END) + EVENT_SUBPROCESS),
    "receive task": ("r", f"接收任务：{WAITS}", chain(START, '<bpmn:receiveTask id="r" name="等材料" messageRef="m"/>', END)),
    "send task": ("st", f"发送任务：本系统不投递消息/信号，{LOST}",
                  chain(START, '<bpmn:sendTask id="st" name="通知企业" messageRef="m"/>', END)),
    "message throw": ("t", f"消息中间抛出事件：本系统不投递消息/信号，{LOST}",
                      chain(START, event("intermediateThrowEvent", "t", "发通知", MESSAGE), END)),
    "signal end": ("e", f"信号结束事件：本系统不投递消息/信号，{LOST}", chain(START, event("endEvent", "e", "广播", SIGNAL))),
    "event-based gateway": ("g", f"基于事件的网关：其后的「c（等回复）」要等消息/信号/条件，{WAITS}",
                            event_gateway(event("intermediateCatchEvent", "c", "等回复", MESSAGE),
                                          event("intermediateCatchEvent", "t", "超时", TIMER))),
    "link": ("lt", "不支持链接事件，流程会在此中断", chain(START, event("intermediateThrowEvent", "lt", "转到",
                                                            '<bpmn:linkEventDefinition name="L"/>'))
             + chain(event("intermediateCatchEvent", "lc", "转入", '<bpmn:linkEventDefinition name="L"/>'),
                     user(), END.replace('"e"', '"e9"'), prefix="k")),
    "compensation": ("ct", "不执行补偿", chain(START, event("intermediateThrowEvent", "ct", "撤销",
                                                       "<bpmn:compensateEventDefinition/>"), END)),
}

ERROR_SUBPROCESS = ('<bpmn:subProcess id="sp" name="审核">' + chain('<bpmn:startEvent id="ss"/>', event(
    "endEvent", "se", "退回", '<bpmn:errorEventDefinition errorRef="err"/>'), prefix="sf") + "</bpmn:subProcess>")
ESCALATION_SUBPROCESS = ('<bpmn:subProcess id="sp" name="审核">' + chain('<bpmn:startEvent id="ss"/>', event(
    "endEvent", "se", "上报", '<bpmn:escalationEventDefinition escalationRef="esc"/>'), prefix="sf") + "</bpmn:subProcess>")
# Handled inside one instance by SpiffWorkflow 3.2: these stay allowed.
ALLOWED = {
    "timer boundary": boundary(TIMER).replace('attachedToRef="u"', 'attachedToRef="u" cancelActivity="false"'),
    "timer catch": chain(START, event("intermediateCatchEvent", "c", "等一天", TIMER), user(), END),
    "timer-only event gateway": event_gateway(event("intermediateCatchEvent", "c", "一天", TIMER),
                                              event("intermediateCatchEvent", "t", "两天", TIMER.replace("P1D", "P2D"))),
    "error boundary": chain(START, ERROR_SUBPROCESS, user(), END) + event(
        "boundaryEvent", "b", "被退回", '<bpmn:errorEventDefinition errorRef="err"/>', ' attachedToRef="sp"')
    + '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="fb" sourceRef="b" targetRef="e2"/>',
    "escalation boundary": chain(START, ESCALATION_SUBPROCESS, user(), END) + event(
        "boundaryEvent", "b", "上报了", '<bpmn:escalationEventDefinition escalationRef="esc"/>',
        ' attachedToRef="sp" cancelActivity="false"') + '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="fb" sourceRef="b" '
    'targetRef="e2"/>',
    "terminate end": chain(START, user(), event("endEvent", "e", "终止", "<bpmn:terminateEventDefinition/>")),
}


@pytest.fixture(scope="module")
def services(tmp_path_factory, make_engine):
    """One engine for checks that only read (validation writes nothing)."""
    built = make_engine(f"sqlite:///{tmp_path_factory.mktemp('runnable') / 'zjtx.sqlite3'}")
    yield built
    built.close()


def report(services, files: dict[str, str]) -> list[dict]:
    with services.db.read() as session:
        return services.registry.validate(session, {k: v.encode() for k, v in files.items()})


def refused(services, files: dict[str, str], element: str) -> str:
    """The report's message on ``element`` (exactly one), asserting it is named with its name."""
    found = [p for p in report(services, files) if p["element"] == element]
    assert len(found) == 1, report(services, files)
    return found[0]["message"]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_events_nothing_delivers_or_runs_are_refused(services, case):
    element, reason, body = REFUSED[case]
    message = refused(services, {"p.bpmn": diagram(body)}, element)
    assert reason in message and f"元素 {element}" in message


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_events_the_library_runs_inside_an_instance_stay_allowed(services, case):
    assert report(services, {"p.bpmn": diagram(ALLOWED[case])}) == []


# -- human tasks: plain and manual tasks are projected like user tasks ----------------------------------
@pytest.mark.parametrize("tag, kind", [("task", "未指定类型的 bpmn:task"), ("manualTask", "手工任务")])
def test_a_manual_or_plain_task_without_a_department_is_refused(services, tag, kind):
    body = chain(START, f'<bpmn:{tag} id="m1" name="现场核查"/>', END)
    message = refused(services, {"p.bpmn": diagram(body)}, "m1")
    assert "没有指定办理单位" in message and kind in message and "（现场核查）" in message


@pytest.mark.parametrize("tag", ["task", "manualTask"])
def test_a_manual_or_plain_task_is_checked_like_a_user_task(services, tag):
    props = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="department" value="无此局"/>'
             '<spiffworkflow:property name="roles" value="liaison,boss"/></spiffworkflow:properties></bpmn:extensionElements>')
    messages = [p["message"] for p in report(services, {"p.bpmn": diagram(chain(
        START, f'<bpmn:{tag} id="m1" name="现场核查">{props}</bpmn:{tag}>', END))})]
    assert any("部门「无此局」不存在" in m for m in messages) and any("未知角色：boss" in m for m in messages)
    strict = MINIMAL.format(lane="区科技局", task=f'<bpmn:{tag} id="t1" name="核查"/>').replace(
        'isExecutable="true">', 'isExecutable="true"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="require_deadlines" value="true"/></spiffworkflow:properties></bpmn:extensionElements>')
    [problem] = report(services, {"tiny.bpmn": strict})
    assert problem["element"] == "t1" and "没有期限" in problem["message"]


@pytest.mark.parametrize("tag", ["task", "manualTask"])
def test_a_manual_task_in_a_department_lane_deploys_and_is_handled_there(zjtx, tag):
    roles = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="roles" value="liaison"/>'
             '</spiffworkflow:properties></bpmn:extensionElements>')
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"tiny.bpmn": MINIMAL.format(
            lane="区科技局", task=f'<bpmn:{tag} id="t1" name="现场核查">{roles}</bpmn:{tag}>').encode()})
    started = zjtx.workflows.start("tiny", {}, actor="admin")
    [task] = started["open_tasks"]
    assert (task["task"], task["department"]) == ("t1", "区科技局")
    zjtx.workflows.complete(task["id"], {}, liaison("区科技局"))
    assert zjtx.queries.show(started["id"])["status"] == "completed"


# -- call activities ---------------------------------------------------------------------------------
def calling(pid: str, target: str, activity: str) -> str:
    return diagram(chain(START, f'<bpmn:callActivity id="{activity}" name="调用{target}" calledElement="{target}"/>',
                         END), pid=pid, name=f"流程{pid}")


def test_a_call_activity_calling_its_own_process_is_refused(services):
    message = refused(services, {"a.bpmn": calling("a", "a", "again")}, "again")
    assert "调用活动形成循环调用：a（流程a） —again→ a（流程a）" in message


def test_a_cycle_through_other_processes_is_refused_once_naming_the_chain(services):
    files = {"a.bpmn": calling("a", "b", "call_b"), "b.bpmn": calling("b", "c", "call_c"),
             "c.bpmn": calling("c", "a", "call_a")}
    cycles = [p for p in report(services, files) if "循环调用" in p["message"]]
    assert len(cycles) == 1 and cycles[0]["element"] == "call_a" and cycles[0]["file"] == "c.bpmn"
    assert "a（流程a） —call_b→ b（流程b） —call_c→ c（流程c） —call_a→ a（流程a）" in cycles[0]["message"]


def test_a_call_without_a_cycle_passes(services):
    assert report(services, {"a.bpmn": calling("a", "b", "call_b"), "b.bpmn": diagram(chain(START, user(), END), pid="b")}) \
        == []


# -- multi-instance -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sequential", ["false", "true"])
def test_a_multi_instance_task_with_nothing_to_count_is_refused(services, sequential):
    def mi(inner: str) -> str:
        return diagram(chain(START, user("u", "会签", f'<bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}">'
                                               f'{inner}</bpmn:multiInstanceLoopCharacteristics>'), END))

    assert "多实例任务必须指定次数或输入集合" in refused(services, {"p.bpmn": mi("")}, "u")  # the parser's own check
    empty = refused(services, {"p.bpmn": mi("<bpmn:loopCardinality></bpmn:loopCardinality>")}, "u")
    assert "多实例任务没有指定次数（loopCardinality）或输入集合（loopDataInputRef）" in empty
    assert report(services, {"p.bpmn": mi("<bpmn:loopCardinality>2</bpmn:loopCardinality>")}) == []


# -- service tasks ------------------------------------------------------------------------------------
def service(operator: str, params, value=lambda name: name, task_id: str = "op") -> str:
    given = "".join(f'<spiffworkflow:parameter id="{p}" type="any" value="{value(p)}"/>' for p in params)
    return diagram(chain(START, f'<bpmn:serviceTask id="{task_id}" name="办结"><bpmn:extensionElements>'
                                f'<spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="result">'
                                f'<spiffworkflow:parameters>{given}</spiffworkflow:parameters>'
                                '</spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>', END))


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_service_task_naming_one_of_our_operations_with_its_parameters_passes(services, name):
    assert report(services, {"p.bpmn": service(name, OPERATIONS[name].params)}) == []


def test_a_service_task_with_an_unknown_operator_is_refused_listing_ours(services):
    message = refused(services, {"p.bpmn": service("send_email", ["to"])}, "op")
    assert "服务任务调用的操作「send_email」不存在" in message and all(n in message for n in OPERATIONS)


def test_missing_parameters_and_broken_parameter_expressions_are_reported(services):
    name, operation = next((n, o) for n, o in sorted(OPERATIONS.items()) if o.params)
    message = refused(services, {"p.bpmn": service(name, operation.params[1:])}, "op")
    assert f"缺少参数：{operation.params[0]}" in message and name in message
    broken = [p["message"] for p in report(services, {"p.bpmn": service(name, operation.params, value=lambda p: "a +")})]
    assert any(f"元素 op（办结）：参数 {operation.params[0]} 的表达式有语法错误" in m for m in broken)


def test_a_parameter_named_like_an_element_is_reported_not_misparsed(services):
    name, operation = next((n, o) for n, o in sorted(OPERATIONS.items()) if o.params)
    clash = operation.params[0]
    bpmn = service(name, operation.params).replace(START, START + user(clash, "填报")).replace(
        'sourceRef="s" targetRef="op"', f'sourceRef="s" targetRef="{clash}"').replace(
        "</bpmn:process>", f'<bpmn:sequenceFlow id="fx" sourceRef="{clash}" targetRef="op"/></bpmn:process>')
    message = refused(services, {"p.bpmn": bpmn}, clash)
    assert f"id「{clash}」同时用于" in message and "服务任务的参数名不能与元素 id 相同" in message


# -- any parser exception is a report entry ------------------------------------------------------------
LONG = chain(START, *(f'<bpmn:scriptTask id="n{i}"><bpmn:script>x = {i}</bpmn:script></bpmn:scriptTask>' for i in range(600)),
             END)
RAW_ERRORS = {  # each is an exception other than ValidationException inside SpiffWorkflow
    "missing error definition": ("e", "事件引用的错误/升级/消息/信号定义不存在",  # TypeError: a bug of the library
                                 chain(START, event("endEvent", "e", "退回", '<bpmn:errorEventDefinition errorRef="nope"/>'))),
    "parameter without type": ("op", "KeyError", service(sorted(OPERATIONS)[0], []).replace(
        "<spiffworkflow:parameters>", '<spiffworkflow:parameters><spiffworkflow:parameter id="x" value="1"/>')),
    "600 tasks in a row": (None, "超出解析器的递归上限", LONG),  # RecursionError, where depends on the stack
}


@pytest.mark.parametrize("case", sorted(RAW_ERRORS))
def test_exceptions_inside_the_parser_become_report_entries(services, case):
    element, reason, body = RAW_ERRORS[case]
    found = report(services, {"p.bpmn": body if body.startswith("<?xml") else diagram(body)})
    assert any(reason in p["message"] and p["element"] == (element or p["element"]) for p in found), found


@pytest.mark.parametrize("where, prefix", [("engine.repository.parsing.SpiffBpmnParser.add_bpmn_xml", "无法解析：RuntimeError"),
                                           ("engine.repository.parsing.SpiffBpmnParser.get_spec", "无法构建流程：RuntimeError"),
                                           ("engine.repository.parsing.runnable_problems", "无法校验：RuntimeError")])
def test_any_exception_of_parsing_or_checking_is_a_report_entry(services, monkeypatch, where, prefix):
    def broken(*args, **kwargs):
        raise RuntimeError("坏了")

    monkeypatch.setattr(where, broken)
    found = report(services, {"p.bpmn": diagram(chain(START, user(), END))})
    assert any(prefix in p["message"] and "坏了" in p["message"] for p in found), found


# -- the same report through `zjtx validate` and the designer --------------------------------------------
CLI_CASES = {  # one per rule: file content, element, reason
    "plain task": (diagram(chain(START, '<bpmn:task id="m1" name="现场核查"/>', END)), "m1", "没有指定办理单位"),
    "message": (diagram(REFUSED["message catch"][2]), "c", WAITS),
    "cycle": (calling("a", "a", "again"), "again", "调用活动形成循环调用"),
    "multi-instance": (diagram(chain(START, user("u", "会签", '<bpmn:multiInstanceLoopCharacteristics>'
                                                 '<bpmn:loopCardinality/></bpmn:multiInstanceLoopCharacteristics>'), END)),
                       "u", "多实例任务没有指定次数"),
    "operator": (service("send_email", []), "op", "服务任务调用的操作「send_email」不存在"),
    "raw error": (diagram(RAW_ERRORS["missing error definition"][2]), "e", "事件引用的错误/升级/消息/信号定义不存在"),
}


def test_zjtx_validate_reports_each_rule_without_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    assert runner.invoke(main, ["seed", "--no-demo-users"]).exit_code == 0
    for case, (content, element, reason) in CLI_CASES.items():
        path = tmp_path / f"{case.replace(' ', '_')}.bpmn"
        path.write_text(content, encoding="utf-8")
        result = runner.invoke(main, ["validate", str(path)])
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (case, result.exception)
        assert reason in result.stderr and f"元素 {element}" in result.stderr and "Traceback" not in result.stderr, case
        as_json = json.loads(runner.invoke(main, ["validate", str(path), "--json"]).stdout)
        assert not as_json["ok"] and any(reason in p["message"] for p in as_json["problems"]), case


def test_the_designer_reports_each_rule_in_its_validate_answer(zjtx):
    from web import create_app

    b = Browser(create_app(services=zjtx, config={"TESTING": True}))
    assert b.login("designer").status_code == 302
    b.get("/designer/")
    for case, (content, element, reason) in CLI_CASES.items():
        answer = b.client.post("/designer/validate", headers={"X-CSRF-Token": b.token},
                               json={"xml": content, "filename": "p.bpmn"})
        assert answer.status_code == 200, case
        body = answer.get_json()
        assert body["ok"] is False and any(reason in p["message"] and p["element"] == element
                                           for p in body["problems"]), case


# -- the MIWG reference files: why each one that gets this far is now refused ------------------------------
CONFORMANCE_REASONS = {
    "C.1.0.bpmn": ("StartEvent_1", f"消息开始事件：{WAITS}"),
    "C.3.0.bpmn": ("_cc9778bd-edd8-4df2-ba15-56c310f90e62", f"消息开始事件：{WAITS}"),
    "C.6.0.bpmn": ("_6a5cdbbf-2618-496e-b728-955dc215ef9d", "不执行补偿"),
    "C.8.1.bpmn": ("_9ed61a6a-7cc1-4ed1-86d8-03482b0983c9", f"发送任务：本系统不投递消息/信号，{LOST}"),
    "C.9.0.bpmn": ("StartMessageEvent_CancellationRequested", f"消息事件子流程的开始事件：{WAITS}"),
    "C.9.1.bpmn": ("ReceiveTask_WaitForDocument", f"接收任务：{WAITS}"),  # got as far as the lanes before
    "C.9.2.bpmn": ("StartMessageEvent_DocumentRequested", f"消息事件子流程的开始事件：{WAITS}"),
}


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance 不存在")
@pytest.mark.parametrize("name", sorted(CONFORMANCE_REASONS))
def test_conformance_files_are_refused_for_what_cannot_run_here(services, name):
    element, reason = CONFORMANCE_REASONS[name]
    assert reason in refused(services, {name: (CONFORMANCE / name).read_text(encoding="utf-8")}, element)


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance 不存在")
def test_c_9_1_also_has_a_user_task_nobody_is_named_for(services):
    message = refused(services, {"C.9.1.bpmn": (CONFORMANCE / "C.9.1.bpmn").read_text(encoding="utf-8")},
                      "UserTask_CallCustomer")
    assert "用户任务没有指定办理单位" in message
