"""Checks a diagram must pass before it is deployed, beyond parsing: expressions that compile in
the sandbox, human tasks someone can be found for, named operations, constructs this engine cannot
run, and Chinese wording for the library's own messages."""
from __future__ import annotations

import ast
import re

from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

from engine.repository.camunda import BPMN_NS
from engine.runtime import messages
from engine.runtime.operations import OPERATIONS
from engine.runtime.sandbox import SandboxViolation, _compile_eval, _compile_exec


def available_operations() -> str:
    """The registered operations (engine/policy registers them at start-up), for messages."""
    return "、".join(f"{op.name}（{op.label}）" for op in OPERATIONS.values()) or "（无）"


# SpiffWorkflow's parser messages, in Chinese for the report (the original stays in brackets).
TRANSLATIONS = [
    (r"Data Store with name (.+) has no implementation", r"数据存储「\1」在本系统中没有实现"),
    (r"A Service Task must have an operator",
     "服务任务没有指定要调用的操作（spiffworkflow:serviceTaskOperator）；可用的操作：{operations}"),
    (r"Exactly one start event is required in a SubWorkflow Task; found 0", "子流程缺少开始事件"),
    (r"Exactly one start event is required.*", "流程或子流程必须有且只有一个开始事件"),
    (r"A multiinstance task must specify a cardinality or a loop input data reference",
     "多实例任务必须指定次数或输入集合"),
    (r"A multiinstance task must specify exactly one of", "多实例任务只能指定次数或输入集合之一"),
    (r"A loopMaximum or loopCondition must be specified", "循环任务必须指定最大次数或循环条件"),
    (r"A SubWorkflow Must contain an End event", "子流程缺少结束事件"),
    (r"The process '([^']*)' was not found.*", r"找不到被调用的流程「\1」（请一并上传定义它的文件）"),
    # The library's own bug: the parser meant "Expected an error/escalation/message/signal node".
    (r"raise_validation_exception\(\) got an unexpected keyword argument 'node'",
     "事件引用的错误/升级/消息/信号定义不存在（errorRef/escalationRef/messageRef/signalRef 指向的元素未定义）"),
    (r"maximum recursion depth exceeded", "流程过长或嵌套过深，超出解析器的递归上限（请拆成子流程或调用活动）"),
    (r"Cannot resolve dataInputAssociation.*", "无法解析数据输入关联"),
    (r"Cannot resolve dataOutputAssociation.*", "无法解析数据输出关联"),
    (r"No DMN Diagram available with id \"([^\"]*)\".*", r"找不到决策表「\1」（请一并上传该 DMN 文件）"),
    (r"Multiple outgoing flows are not supported for tasks of type", "该类型任务不能有多条流出连线（请加网关）"),
    (r"Outgoing flow on a gateway requires a condition", "网关的流出连线缺少条件表达式"),
    (r"Element.+is not allowed|The element .+ is not expected", "不符合 BPMN 2.0 规范的元素"),
    # The DMN schema's messages (lxml): the element is located from the line by the caller.
    (r"attribute 'hitPolicy': \[facet 'enumeration'\] The value '([^']*)'.*",
     r"命中策略「\1」无效（可用：UNIQUE、FIRST、PRIORITY、ANY、COLLECT、RULE ORDER、OUTPUT ORDER）"),
    (r"Missing child element\(s\).*", "缺少必需的子元素"),
    (r"This element is not expected.*", "此处不允许该元素"),
    (r"attribute '(\w+)': .* is not a valid value of the atomic type 'xs:ID'.*", r"属性 \1 不是有效的 id（或与其他元素重复）"),
    (r"The attribute '(\w+)' is required but missing.*", r"缺少必需的属性 \1"),
]
DEADLINE_KEYS = ("due_working_days", "due_working_days_from", "due_natural_days", "due_date_from")


def translate(message: str) -> str:
    text = " ".join(str(message).split()).rstrip(".")
    for pattern, chinese in TRANSLATIONS:
        found = re.search(pattern, text)
        if found:
            chinese = chinese.replace("{operations}", available_operations())
            return f"{re.sub(pattern, chinese, found.group(0))}（{text}）"
    return text


def expression_problem(kind: str, code: str, exec_mode: bool = False) -> str | None:
    try:
        (_compile_exec if exec_mode else _compile_eval)(code)
    except SandboxViolation as exc:
        if "SyntaxError" in str(exc):
            detail = str(exc).split("SyntaxError:", 1)[1].strip()
            return f"{kind}有语法错误：{detail}"
        return f"{kind}无法通过沙箱编译：{exc}"
    except SyntaxError as exc:
        return f"{kind}有语法错误：{exc.msg}（第 {exc.lineno} 行）"
    except Exception as exc:  # e.g. RecursionError on absurd nesting, ValueError on NUL bytes
        return f"{kind}无法编译：{type(exc).__name__}: {exc}"
    return None


def is_human_task(ts) -> bool:
    """What engine/runtime/projection.py projects as a human task: every READY task whose spec is ``manual``.
    In SpiffWorkflow 3.2 that is userTask, manualTask and plain bpmn:task alike, each gets a row with
    a department resolved the same way, so all three are checked like user tasks."""
    return bool(getattr(ts, "manual", False))


def human_kind(ts) -> str:
    if isinstance(ts, UserTask):
        return "用户任务"
    return "手工任务" if isinstance(ts, ManualTask) else "任务（未指定类型的 bpmn:task，按人工任务办理）"


def task_problems(ts, properties: dict, needs_deadline: bool) -> list[str]:
    """What is wrong with one task spec: expressions that do not compile, a human task without a
    deadline in a process that requires deadlines (process property ``require_deadlines``), a
    service task that names no operation of ours, a multi-instance activity with nothing to count."""
    out = []
    script = getattr(ts, "script", None)
    if script:
        out.append(expression_problem("脚本", script, exec_mode=True))
    for attr, kind in (("prescript", "前置脚本"), ("postscript", "后置脚本")):
        if getattr(ts, attr, None):
            out.append(expression_problem(kind, getattr(ts, attr), exec_mode=True))
    for condition, target in getattr(ts, "cond_task_specs", None) or []:
        if condition is not None and getattr(condition, "args", None):
            out.append(expression_problem(f"通往「{target}」的条件", condition.args[0]))
    definition = getattr(ts, "event_definition", None)
    if definition is not None and getattr(definition, "expression", None):
        out.append(expression_problem("定时器表达式", definition.expression))
    for attr, kind in (("cardinality", "多实例次数"), ("condition", "多实例完成条件")):
        value = getattr(ts, attr, None)
        if isinstance(value, str) and value:
            out.append(expression_problem(kind, value))
    if needs_deadline and not any(k in properties for k in DEADLINE_KEYS) and properties.get("no_deadline") != "true":
        out.append(f"{human_kind(ts)}没有期限：请设置 due_working_days（或 due_date_from 等），"
                   "确无期限的设 no_deadline=true")
    if isinstance(ts, ServiceTask):
        out.extend(_operation_problems(ts))
    if isinstance(ts, MultiInstanceTask):
        out.extend(_multi_instance_problems(ts))
    return [p for p in out if p]


def human_task_problems(ts, properties: dict, directory, roles) -> list[str]:
    """Who would act on a human task: the same resolution as projection.task_department (the
    property department_from, else department, else the lane), and roles that exist."""
    out, kind = [], human_kind(ts)
    lane = getattr(ts, "lane", None)
    if "department" in properties and directory.find(properties["department"]) is None:
        out.append(f"属性 department 指定的部门「{properties['department']}」不存在")
    elif "department" not in properties and "department_from" not in properties:
        if not lane:
            out.append(f"{kind}没有指定办理单位：请设置 department 或 department_from 属性，"
                       "或把它放进以部门命名的泳道（否则流程运行到这里会出错）")
        elif directory.find(lane) is None:
            out.append(f"{kind}所在泳道「{lane}」不对应任何部门，且未设置 department 或 department_from 属性")
    unknown = {r.strip() for r in properties.get("roles", "").split(",") if r.strip()} - set(roles)
    if unknown:
        out.append(f"属性 roles 含未知角色：{'、'.join(sorted(unknown))}")
    return out


def _operation_problems(ts) -> list[str]:
    # A service task is the only way to an effect outside the data; it must name one of
    # engine.runtime.operations.OPERATIONS, or the engine would fail at the task at run time.
    name, params = ts.operation_name, ts.operation_params or {}
    operation = OPERATIONS.get(name)
    if operation is None:
        return [f"服务任务调用的操作「{name}」不存在；可用的操作：{available_operations()}"]
    out = []
    missing = [p for p in operation.params if p not in params]
    if missing:
        out.append(f"服务任务调用操作 {name}（{operation.label}）缺少参数：{'、'.join(missing)}"
                   f"（该操作的参数：{'、'.join(operation.params)}）")
    for param, spec in params.items():
        if isinstance(spec, dict) and isinstance(spec.get("value"), str):
            out.append(expression_problem(f"参数 {param} 的表达式", spec["value"]))
    return out


def _multi_instance_problems(ts) -> list[str]:
    # The parser checks that the elements are there, not that they hold anything: an empty
    # <loopCardinality/> or <loopDataInputRef/> parses and fails when the instance reaches the task.
    cardinality = ts.cardinality if isinstance(ts.cardinality, str) and ts.cardinality.strip() else None
    data_input = ts.data_input if ts.data_input is not None and getattr(ts.data_input, "bpmn_id", None) else None
    if cardinality is None and data_input is None:
        return ["多实例任务没有指定次数（loopCardinality）或输入集合（loopDataInputRef），运行到这里会出错"]
    return []


def _feel_list(entry: str) -> str | None:
    # FEEL's list "IT","HR" is a Python tuple: the engine compares the input with the tuple and the
    # rule never matches, silently.
    try:
        tree = ast.parse(entry.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    if isinstance(tree.body, ast.Tuple) and "?" not in entry:
        return f"输入条目「{entry.strip()}」是 FEEL 列表的写法，按 Python 求值永远不会命中：请写成 ? in ({entry.strip()})"
    return None


def dmn_problems(parser) -> list[dict]:
    """Entries of DMN tables that do not compile in the sandbox."""
    out = []
    for decision_id, dmn_parser in parser.dmn_parsers.items():
        try:
            dmn_parser.parse()
            tables = dmn_parser.decision.decisionTables
        except Exception as exc:  # the library raises raw errors on malformed tables
            out.append({"element": decision_id, "message": f"决策表无法解析：{translate(str(exc))}"})
            continue
        for table in tables:
            for rule in table.rules:
                for entry in rule.inputEntries:
                    for lhs in entry.lhs:
                        if not lhs or lhs.strip() == "-":
                            continue
                        text = lhs.replace("?", "dmninputexpr")
                        problem = (expression_problem("输入条目", text) if "dmninputexpr" in text else
                                   expression_problem("输入条目", f"dmninputexpr {lhs}") and
                                   expression_problem("输入条目", lhs)) or _feel_list(lhs)
                        if problem:
                            out.append({"element": rule.id, "message": f"决策表 {decision_id} 第 {rule.row_number} 行："
                                                                       f"{problem}"})
    return out


# -- constructs this engine cannot run (SpiffWorkflow 3.2 behaviour, each checked by running it) -----
# Nothing reads workflow.get_events(), and the only messages that arrive from outside are those the
# procedures register (engine.runtime.messages: the engine delivers them to a waiting catch or boundary
# event); any other message or signal from outside never arrives, and one thrown inside an instance reaches only a catch that is
# already waiting (thrown earlier, it is dropped). Conditional events are evaluated once, when
# reached, never again. Link events are not parsed: the throw ends its path, the catch never runs.
# Compensation is not implemented: a compensation throw does nothing. Timer, error, escalation,
# terminate and cancel events run inside one instance and stay allowed; so does an event-based
# gateway whose branches all wait for timers.
WAITS = "本系统不投递消息/信号，流程会一直等待"
LOST = "本系统不投递消息/信号，发出的消息/信号不会送达任何流程"
CATCHING = {"startEvent": "开始事件", "intermediateCatchEvent": "中间捕获事件", "boundaryEvent": "边界事件"}
THROWING = {"intermediateThrowEvent": "中间抛出事件", "endEvent": "结束事件"}
KINDS = {"messageEventDefinition": "消息", "signalEventDefinition": "信号", "conditionalEventDefinition": "条件",
         "linkEventDefinition": "链接", "compensateEventDefinition": "补偿", "timerEventDefinition": "定时"}


def _local(element) -> str:
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""


def _definitions(element) -> list[str]:
    return [_local(c) for c in element if isinstance(c.tag, str) and _local(c).endswith("EventDefinition")]


def _message_name(event) -> str | None:
    """The name of the ``bpmn:message`` an event's message definition refers to."""
    definition = event.find(f"{{{BPMN_NS}}}messageEventDefinition")
    ref = definition.get("messageRef") if definition is not None else None
    if not ref:
        return None
    found = event.getroottree().getroot().find(f"{{{BPMN_NS}}}message[@id='{ref}']") \
        if "'" not in ref else None
    return found.get("name") if found is not None else None


def _event_reason(element) -> str | None:
    tag = _local(element)
    if tag == "receiveTask":
        return f"接收任务：{WAITS}"
    if tag == "sendTask":
        return f"发送任务：{LOST}"
    if tag not in CATCHING and tag not in THROWING:
        return None
    place = CATCHING.get(tag) or THROWING[tag]
    if tag == "startEvent" and element.getparent().get("triggeredByEvent") == "true":
        place = "事件子流程的开始事件"
    for kind in _definitions(element):
        label = KINDS.get(kind, "") + place
        if kind == "messageEventDefinition" and tag in ("intermediateCatchEvent", "boundaryEvent") \
                and _message_name(element) in messages.DELIVERED:
            continue  # a message the engine delivers (engine.runtime.messages)
        if kind in ("messageEventDefinition", "signalEventDefinition"):
            hint = f"（本系统只投递这些消息：{messages.available()}）" if kind == "messageEventDefinition" \
                and tag in ("intermediateCatchEvent", "boundaryEvent") else ""
            return f"{label}：{WAITS if tag in CATCHING else LOST}{hint}"
        if kind == "conditionalEventDefinition":
            return f"{label}：条件只在流程到达时判断一次，不成立时不会再次判断，流程会一直等待（请改用排他网关）"
        if kind == "linkEventDefinition":
            return f"{label}：本系统不支持链接事件，流程会在此中断并跳过后面的步骤（请直接画连线）"
        if kind == "compensateEventDefinition":
            return f"{label}：本系统不执行补偿，补偿事件不会触发任何补偿活动"
    return None


def _gateway_reason(gateway) -> str | None:
    container = gateway.getparent()
    by_id = {c.get("id"): c for c in container if isinstance(c.tag, str)}
    for flow in container.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        if flow.get("sourceRef") != gateway.get("id"):
            continue
        target = by_id.get(flow.get("targetRef"))
        if target is None or _local(target) != "intermediateCatchEvent" or \
                set(_definitions(target)) != {"timerEventDefinition"}:
            shown = flow.get("targetRef") if target is None or not target.get("name") else \
                f"{target.get('id')}（{target.get('name')}）"
            return f"基于事件的网关：其后的「{shown}」要等消息/信号/条件，{WAITS}（只等定时器的网关可以运行）"
    return None


def unsupported_elements(processes: dict) -> list[dict]:
    """Events, tasks and gateways of the given process elements (id → lxml element, embedded
    sub-processes included) that would wait forever or silently do nothing here."""
    out, seen = [], set()
    for node in processes.values():
        for element in node.iter():
            tag = _local(element)
            reason = _gateway_reason(element) if tag == "eventBasedGateway" else _event_reason(element)
            if reason and element.get("id") not in seen:
                seen.add(element.get("id"))
                out.append({"element": element.get("id"), "name": element.get("name"), "message": reason})
    return out


def call_cycles(processes: dict) -> list[dict]:
    """Call activities that call their own process, directly or through others of the deployment.

    SpiffWorkflow runs a recursion that a condition ends, but an unconditional one makes
    do_engine_steps() expand sub-processes forever inside the request, and no check can tell which
    conditions end: every cycle is refused (a loop or a multi-instance activity does the same job)."""
    calls = {pid: [(c.get("id"), c.get("calledElement")) for c in node.iter(f"{{{BPMN_NS}}}callActivity")]
             for pid, node in processes.items()}
    names = {pid: node.get("name") for pid, node in processes.items()}
    labels = {c.get("id"): c.get("name") for node in processes.values() for c in node.iter(f"{{{BPMN_NS}}}callActivity")}
    state: dict[str, str] = {}
    path: list[tuple[str, str]] = []
    out = []

    def show(pid: str) -> str:
        return f"{pid}（{names[pid]}）" if names.get(pid) else pid

    def visit(pid: str) -> None:
        state[pid] = "open"
        for activity, target in calls[pid]:
            if target not in calls:
                continue  # the parser reports a process that is not there
            path.append((pid, activity))
            if state.get(target) == "open":
                chain = path[[p for p, _ in path].index(target):]
                steps = " ".join(f"{show(p)} —{a}→" for p, a in chain)
                out.append({"element": activity, "name": labels.get(activity),
                            "message": f"调用活动形成循环调用：{steps} {show(target)}；"
                                       "实例会无限展开子流程，引擎一直运行不停"})
            elif target not in state:
                visit(target)
            path.pop()
        state[pid] = "done"

    for pid in sorted(calls):
        if pid not in state:
            visit(pid)
    return out


def duplicate_ids(processes: dict) -> list[dict]:
    """BPMN elements whose id another element of the process also carries, e.g. a service task
    parameter named like a task: the parser indexes every id, the last one wins, and it then parses
    the wrong element ("There is no support implemented for this task type")."""
    out = []
    for node in processes.values():
        carriers: dict[str, list] = {}
        for element in node.iter():
            if isinstance(element.tag, str) and element.get("id"):
                carriers.setdefault(element.get("id"), []).append(element)
        for element_id, elements in carriers.items():
            bpmn = [e for e in elements if e.tag.startswith(f"{{{BPMN_NS}}}")]
            if len(elements) > 1 and bpmn:
                others = "、".join(f"第 {e.sourceline} 行的 {_local(e)}" for e in elements if e is not bpmn[0])
                out.append({"element": element_id, "name": bpmn[0].get("name"),
                            "message": f"id「{element_id}」同时用于{others}：解析器会把后出现的当作这个元素，"
                                       "请给其中的流程元素换一个 id（服务任务的参数名不能与元素 id 相同）"})
    return out


def runnable_problems(processes: dict) -> list[dict]:
    """Every check on the XML of the executable processes (id → element): {element, name, message}."""
    return duplicate_ids(processes) + unsupported_elements(processes) + call_cycles(processes)
