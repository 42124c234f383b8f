"""No diagram can hang, crash or block the engine: diagram code runs under hard CPU, wall-time and
memory limits enforced from outside the code, and no write lock is held while it runs."""
from __future__ import annotations

import threading
import time

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.errors import WorkflowFailed
from engine.runtime.sandbox import SandboxViolation, ScriptMemoryExceeded, ScriptTimeout
from engine.runtime.script_pool import Limits, pool_for
from engine.runtime.scripting import SCRIPT_GLOBALS, SandboxedEnvironment
from engine.runtime.steps import StepBudget, run
from tests.helpers import Item, wait_for
from tests.helpers import counts as _counts

CPU, WALL = 0.5, 1.5
LIMITS = Limits(cpu_seconds=CPU, wall_seconds=WALL, memory_mb=256)
SLOW = "len(sum([[0] * 1400] * 1400, []))"  # one long C-level call

# Every route to endless time: none of them may get past the limit.
TIME_PAYLOADS = {
    "endless loop": "while True: pass",
    "loop that catches the timeout": "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
    "finally: return": ("def f():\n    while True:\n        try:\n            while True: pass\n"
                        "        finally:\n            return f()\nf()"),
    "bare except": "while True:\n    try:\n        x = 1\n    except:\n        pass",
    "one long C call": f"x = {SLOW}",
    "repeated squaring": "x = 3\nfor i in range(64):\n    x = x * x",
    "sorting a huge list repeatedly": "x = list(range(1000000))\nwhile True:\n    x = sorted(x, reverse=True)",
}
# Every route to endless memory.
MEMORY_PAYLOADS = {
    "ljust": "x = 'a'.ljust(10 ** 10)",
    "center": "x = 'a'.center(10 ** 10)",
    "zfill": "x = '1'.zfill(10 ** 10)",
    "replace": "s = 'a' * 100000\nx = s.replace('a', s)",
    "join": "s = 'a' * 900000\nx = s.join([s] * 900)",
    "expandtabs": "x = ('\\t' * 1000).expandtabs(10 ** 7)",
    "%*d formatting": "x = '%*d' % (10 ** 10, 1)",
    "left shift": "x = 1 << 10 ** 11",
    "s = s + s": "s = 'ab'\nwhile True:\n    s = s + s",
    "l.extend(l)": "l = [1]\nwhile True:\n    l.extend(l)",
    "dict of huge keys": "d = {}\ni = 0\nwhile True:\n    d[i] = 'x' * 900000\n    i += 1",
    "catching MemoryError": "l = [1]\nwhile True:\n    try:\n        l.extend(l)\n    except Exception:\n        pass",
}


@pytest.fixture(scope="module")
def env():
    return SandboxedEnvironment(dict(SCRIPT_GLOBALS), limits=LIMITS)


@pytest.mark.parametrize("name", list(TIME_PAYLOADS))
def test_scripts_cannot_run_past_their_time_limit(env, name):
    started = time.monotonic()
    with pytest.raises(SandboxViolation) as caught:
        env.execute(TIME_PAYLOADS[name], {})
    assert time.monotonic() - started < WALL + 2
    assert isinstance(caught.value, (ScriptTimeout, ScriptMemoryExceeded)), caught.value
    assert "已停止" in str(caught.value)


@pytest.mark.parametrize("name", list(MEMORY_PAYLOADS))
def test_scripts_cannot_take_more_than_their_memory(env, name):
    started = time.monotonic()
    with pytest.raises(SandboxViolation) as caught:
        env.execute(MEMORY_PAYLOADS[name], {})
    assert time.monotonic() - started < WALL + 2
    assert "已停止" in str(caught.value) or "过大" in str(caught.value), caught.value


def test_expressions_are_limited_too(env):
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        env.evaluate(f"{SLOW} > 0", {})
    with pytest.raises(ScriptMemoryExceeded):
        env.evaluate("len('a'.ljust(10 ** 10))", {})
    assert time.monotonic() - started < 2 * (WALL + 2)


def test_a_worker_that_hit_a_limit_is_replaced_and_the_next_script_runs(env):
    with pytest.raises(ScriptTimeout):
        env.execute("while True: pass", {})
    context = {"n": 2}
    env.execute("m = n * 21", context)
    assert context["m"] == 42


def test_values_that_cannot_leave_the_sandbox_are_refused_not_run(env):
    # Only plain data comes back from a worker (a function or generator would have to be rebuilt).
    for script in ("x = [lambda: 1]", "x = (i for i in [1])"):
        with pytest.raises(SandboxViolation):
            env.execute(script, {})
    context = {}
    env.execute("d = date(2026, 1, 2)\nt = timedelta(days=3)\ns = {1, 2}", context)
    assert str(context["d"]) == "2026-01-02" and context["t"].days == 3 and context["s"] == {1, 2}


def test_helpers_run_in_the_engine_and_their_arguments_are_bounded(env):
    calls = []

    def add(a, b):
        calls.append((a, b))
        return a + b
    helped = SandboxedEnvironment({**SCRIPT_GLOBALS, "add": add}, limits=LIMITS)
    context = {}
    helped.execute("x = add(2, 3)", context)
    assert context["x"] == 5 and calls == [(2, 3)]
    with pytest.raises(SandboxViolation) as caught:
        helped.execute("while True:\n    add(1, 1)", {})
    assert "辅助函数" in str(caught.value) or "已停止" in str(caught.value)


# -- in diagrams --------------------------------------------------------------------------
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="poisoned" name="有问题的流程" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="区科技局"><bpmn:flowNodeRef>t1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t1"/>
    <bpmn:userTask id="t1" name="办理"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="bad"/>
    {body}
  </bpmn:process>
</bpmn:definitions>"""
END = '<bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'


def _script(code: str) -> str:
    from xml.sax.saxutils import escape

    return ('<bpmn:scriptTask id="bad" name="越权脚本"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
            f'<bpmn:script>{escape(code)}</bpmn:script></bpmn:scriptTask>'
            '<bpmn:sequenceFlow id="f3" sourceRef="bad" targetRef="e"/>' + END)


DIAGRAMS = {
    "script task": _script("while True: pass"),
    "script task catching the timeout": _script(TIME_PAYLOADS["loop that catches the timeout"]),
    "script task with finally: return": _script(TIME_PAYLOADS["finally: return"]),
    "script task taking memory": _script(MEMORY_PAYLOADS["%*d formatting"]),
    "script task catching MemoryError": _script(MEMORY_PAYLOADS["catching MemoryError"]),
    "gateway condition": ('<bpmn:exclusiveGateway id="bad" name="越权条件"><bpmn:incoming>f2</bpmn:incoming>'
                          '<bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>'
                          f'<bpmn:sequenceFlow id="f3" sourceRef="bad" targetRef="e"><bpmn:conditionExpression>'
                          f'{SLOW} &gt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>'
                          '<bpmn:sequenceFlow id="f4" sourceRef="bad" targetRef="e2"><bpmn:conditionExpression>'
                          'True</bpmn:conditionExpression></bpmn:sequenceFlow>' + END +
                          '<bpmn:endEvent id="e2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>'),
    "timer": ('<bpmn:intermediateCatchEvent id="bad" name="越权定时器"><bpmn:incoming>f2</bpmn:incoming>'
              '<bpmn:outgoing>f3</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>'
              f'"PT" + str({SLOW}) + "S"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
              '<bpmn:sequenceFlow id="f3" sourceRef="bad" targetRef="e"/>' + END),
    "multi-instance": ('<bpmn:scriptTask id="bad" name="越权多实例"><bpmn:incoming>f2</bpmn:incoming>'
                       '<bpmn:outgoing>f3</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics isSequential="false">'
                       f'<bpmn:loopCardinality>{SLOW}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
                       '<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'
                       '<bpmn:sequenceFlow id="f3" sourceRef="bad" targetRef="e"/>' + END),
    "DMN cell": ('<bpmn:businessRuleTask id="bad" name="越权决策"><bpmn:extensionElements>'
                 '<spiffworkflow:calledDecisionId>poison</spiffworkflow:calledDecisionId></bpmn:extensionElements>'
                 '<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:businessRuleTask>'
                 '<bpmn:sequenceFlow id="f3" sourceRef="bad" targetRef="e"/>' + END),
}
POISON_DMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="poison_d" name="毒" namespace="t">
  <decision id="poison" name="越权决策表">
    <decisionTable id="poison_table" hitPolicy="UNIQUE">
      <input id="i1" label="数"><inputExpression id="i1e" typeRef="integer"><text>1</text></inputExpression></input>
      <output id="o1" label="结果" name="verdict" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1i"><text>? &lt; {SLOW}</text></inputEntry>
        <outputEntry id="r1o"><text>"yes"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


@pytest.fixture
def limited(database_url, make_engine):
    services = make_engine(database_url, script_cpu_seconds=CPU, script_wall_seconds=WALL)
    yield services
    services.close()


def _deploy(services, bpmn: str, extra: dict | None = None) -> None:
    files = {"poisoned.bpmn": bpmn.encode(), **{k: v.encode() for k, v in (extra or {}).items()}}
    with services.db.write() as session:
        services.registry.deploy(session, files)


@pytest.mark.parametrize("where", list(DIAGRAMS))
def test_diagram_code_anywhere_is_stopped_with_the_element_named_and_nothing_written(limited, where):
    _deploy(limited, HEAD.format(body=DIAGRAMS[where]), {"poison.dmn": POISON_DMN} if where == "DMN cell" else None)
    started = limited.workflows.start("poisoned", {}, actor="admin")
    before = _counts(limited, started["id"])
    clock = time.monotonic()
    with pytest.raises(WorkflowFailed) as caught:
        limited.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert time.monotonic() - clock < WALL + 2
    assert "bad" in caught.value.message and "越权" in caught.value.message, caught.value.message
    assert "已停止" in caught.value.message, caught.value.message
    assert _counts(limited, started["id"]) == before


def test_another_users_completion_goes_through_while_a_script_loops(limited):
    _deploy(limited, HEAD.format(body=DIAGRAMS["script task"]))
    evil = limited.workflows.start("poisoned", {}, actor="admin")
    item = Item(limited)
    outcome = {}

    def loop():
        try:
            limited.workflows.complete(evil["open_tasks"][0]["id"], {}, "admin")
        except WorkflowFailed as exc:
            outcome["error"] = exc.message
    pool = pool_for(limited.workflows.limits)
    sent = pool.runs
    runner = threading.Thread(target=loop)
    runner.start()
    wait_for(lambda: pool.runs > sent)  # the loop has gone to its worker
    clock = time.monotonic()
    item.accept()
    took = time.monotonic() - clock
    assert runner.is_alive(), "the loop should still be running while the other user completes a task"
    runner.join()
    assert took < 1.0, f"another user's completion took {took:.2f} s"
    assert "已停止" in outcome["error"]
    assert [t["task"] for t in item.open_tasks()] == ["dispatch"]


ONE_STEP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="{key}" name="一步" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="body"/>
    {body}
    <bpmn:sequenceFlow id="f2" sourceRef="body" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _unvalidated(services, key: str, body: str) -> BpmnWorkflow:
    """A workflow straight from the library's parser, as if validation had let it through."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(ONE_STEP.format(key=key, body=body).encode()), filename=f"{key}.bpmn")
    return BpmnWorkflow(parser.get_spec(key), parser.get_subprocess_specs(key),
                        script_engine=services.workflows.script_engine)


def test_a_call_activity_that_calls_itself_ends_with_a_clear_error(limited):
    # Deployment refuses it (engine.repository.validation); the runtime stops it all the same if one got through.
    workflow = _unvalidated(limited, "again", '<bpmn:callActivity id="body" name="再来一次" calledElement="again">'
                                              '<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
                                              '</bpmn:callActivity>')
    clock = time.monotonic()
    with pytest.raises(WorkflowFailed) as caught:
        run(workflow, StepBudget())
    assert time.monotonic() - clock < 5
    assert "嵌套" in caught.value.message and "已停止" in caught.value.message


def test_a_library_failure_ends_the_step_in_chinese_with_the_detail_kept(limited):
    # A parallel multi-instance whose input names nothing: SpiffWorkflow raises a TypeError of its own.
    # Validation refuses it (engine.repository.validation); if one got through, the step still ends cleanly.
    workflow = _unvalidated(limited, "broken", '<bpmn:scriptTask id="body" name="逐个处理"><bpmn:incoming>f1'
                                               '</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
                                               '<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
                                               '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
                                               '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>x = 1'
                                               '</bpmn:script></bpmn:scriptTask>')
    workflow.task_tree.data["items"] = 7  # not a collection
    with pytest.raises(WorkflowFailed) as caught:
        run(workflow, StepBudget())
    assert "逐个处理" in caught.value.message and "Traceback" not in caught.value.message
    assert "Error" in (getattr(caught.value, "detail", "") or caught.value.message)
