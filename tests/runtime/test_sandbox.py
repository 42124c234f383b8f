"""Scripts and expressions from diagrams run in the sandbox: a corpus of known escapes."""
from __future__ import annotations

import time

import pytest

from engine.errors import WorkflowFailed
from engine.runtime.sandbox import SandboxViolation, ScriptTimeout
from engine.runtime.script_pool import Limits
from engine.runtime.scripting import SandboxedEnvironment

ESCAPES = {
    "import": "import os\nos.system('id')",
    "from import": "from os import system",
    "__import__": "__import__('os').system('id')",
    "open": "open('/etc/passwd').read()",
    "eval": "eval('1+1')",
    "exec": "exec('x = 1')",
    "compile": "compile('1', 'x', 'eval')",
    "globals": "globals()",
    "getattr": "getattr((), '__class__')",
    "subclasses": "().__class__.__base__.__subclasses__()",
    "dunder via item": "x = {}\nx.__class__",
    "generator frame walk": "g = (i for i in [1])\nf = g.gi_frame.f_back.f_globals",
    "format-string attribute": "'{0.__class__}'.format(1)",
    "format_map": "'{x.__class__}'.format_map({'x': 1})",
    "f-string dunder": "f'{(1).__class__}'",
    "type": "type(1)",
    "vars": "vars()",
    "huge list": "x = [0] * 10**10",
    "huge string": "x = 'a' * 10**9",
    "huge range": "x = list(range(10**9))",
    "huge power": "x = 10 ** 10 ** 10",
    "in-place growth": "x = [0]\nx *= 10**9",
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_known_escapes_are_refused(name):
    env = SandboxedEnvironment()
    with pytest.raises(SandboxViolation) as caught:
        env.execute(ESCAPES[name], {})
    assert any(word in str(caught.value) for word in ("沙箱", "不允许", "过大", "不能超过", "乘方"))


def test_an_endless_loop_is_stopped_by_the_time_limit():
    env = SandboxedEnvironment(limits=Limits(cpu_seconds=0.3, wall_seconds=2))
    started = time.monotonic()
    with pytest.raises(ScriptTimeout) as caught:
        env.execute("while True:\n    pass", {})
    assert time.monotonic() - started < 2 and "秒" in str(caught.value)


def test_ordinary_scripts_still_work():
    env = SandboxedEnvironment({"add_days": lambda d, n: d + n})
    context = {"assignment": {"returns": []}, "n": 3, "lead": "x"}
    env.execute('assignment["returns"].append({"department": "A"})\n'
                'assignment["department"] = "B"\n'
                'items = [i * 2 for i in range(n)]\n'
                'label = f"{n}-04-30"\n'
                'total = add_days(n, 2)\n'
                'del lead', context)
    assert context["assignment"] == {"returns": [{"department": "A"}], "department": "B"}
    assert (context["items"], context["label"], context["total"]) == ([0, 2, 4], "3-04-30", 5)
    assert "lead" not in context
    assert env.evaluate('n in (1, 2, 3) and assignment["department"] == "B"', context) is True


def test_a_diagram_with_an_evil_script_fails_its_step_cleanly(zjtx):
    from tests.helpers import MINIMAL, USER_TASK
    from tests.helpers import counts as _counts

    evil = MINIMAL.format(lane="区科技局", task=USER_TASK).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="e"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="boom"/>'
        '<bpmn:scriptTask id="boom" name="越权脚本"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
        '<bpmn:script>SCRIPT</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="f3" sourceRef="boom" targetRef="e"/>').replace(
        '<bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>', '<bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>')
    # What the sandbox refuses when compiling is refused at deployment, with the element named.
    from engine.errors import DeploymentError

    with pytest.raises(DeploymentError) as refused, zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"evil.bpmn": evil.replace("SCRIPT", "x = ().__class__").encode()})
    assert refused.value.problems[0]["element"] == "boom" and "沙箱" in refused.value.problems[0]["message"]
    # What only shows at run time stops the step: an uploaded script is sandboxed when it runs.
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"evil.bpmn": evil.replace("SCRIPT", "x = [0] * 10**10").encode()})
    started = zjtx.workflows.start("tiny", {}, actor="admin")
    before = _counts(zjtx, started["id"])
    with pytest.raises(WorkflowFailed) as caught:
        zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert "越权脚本" in caught.value.message and "过大" in caught.value.message
    assert _counts(zjtx, started["id"]) == before
    # The engine goes on serving other work.
    assert zjtx.workflows.start("problem_dispatch", {"enterprise_name": "某某公司", "category": "用地",
                                                     "description": "扩建用地不足的问题", "source": "企业"},
                                actor="dispatcher")["status"] == "running"
