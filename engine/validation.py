"""Checks a diagram must pass before it is deployed, beyond parsing: expressions that compile in
the sandbox, deadlines on user tasks, and Chinese wording for the library's own messages."""
from __future__ import annotations

import re

from engine.sandbox import SandboxViolation, _compile_eval, _compile_exec

# SpiffWorkflow's parser messages, in Chinese for the report (the original stays in brackets).
TRANSLATIONS = [
    (r"Data Store with name (.+) has no implementation", r"数据存储「\1」在本系统中没有实现"),
    (r"A Service Task must have an operator", "服务任务没有指定要调用的操作（本系统不调用外部服务）"),
    (r"Exactly one start event is required in a SubWorkflow Task; found 0", "子流程缺少开始事件"),
    (r"Exactly one start event is required.*", "流程或子流程必须有且只有一个开始事件"),
    (r"A multiinstance task must specify a cardinality or a loop input data reference",
     "多实例任务必须指定次数或输入集合"),
    (r"Cannot resolve dataInputAssociation.*", "无法解析数据输入关联"),
    (r"Cannot resolve dataOutputAssociation.*", "无法解析数据输出关联"),
    (r"No DMN Diagram available with id \"([^\"]*)\".*", r"找不到决策表「\1」（请一并上传该 DMN 文件）"),
    (r"Multiple outgoing flows are not supported for tasks of type", "该类型任务不能有多条流出连线（请加网关）"),
    (r"Outgoing flow on a gateway requires a condition", "网关的流出连线缺少条件表达式"),
    (r"Element.+is not allowed|The element .+ is not expected", "不符合 BPMN 2.0 规范的元素"),
]
DEADLINE_KEYS = ("due_working_days", "due_working_days_from", "due_natural_days", "due_date_from")


def translate(message: str) -> str:
    text = " ".join(str(message).split()).rstrip(".")
    for pattern, chinese in TRANSLATIONS:
        found = re.search(pattern, text)
        if found:
            return f"{re.sub(pattern, chinese, found.group(0))}（{text}）"
    return text


def _expression_problem(kind: str, code: str, exec_mode: bool = False) -> str | None:
    try:
        (_compile_exec if exec_mode else _compile_eval)(code)
    except SandboxViolation as exc:
        if "SyntaxError" in str(exc):
            detail = str(exc).split("SyntaxError:", 1)[1].strip()
            return f"{kind}有语法错误：{detail}"
        return f"{kind}无法通过沙箱编译：{exc}"
    except SyntaxError as exc:
        return f"{kind}有语法错误：{exc.msg}（第 {exc.lineno} 行）"
    return None


def task_problems(ts, properties: dict, needs_deadline: bool) -> list[str]:
    """What is wrong with one task spec: expressions that do not compile, and a user task without a
    deadline in a process that requires deadlines (process property ``require_deadlines``)."""
    out = []
    script = getattr(ts, "script", None)
    if script:
        out.append(_expression_problem("脚本", script, exec_mode=True))
    for attr, kind in (("prescript", "前置脚本"), ("postscript", "后置脚本")):
        if getattr(ts, attr, None):
            out.append(_expression_problem(kind, getattr(ts, attr), exec_mode=True))
    for condition, target in getattr(ts, "cond_task_specs", None) or []:
        if condition is not None and getattr(condition, "args", None):
            out.append(_expression_problem(f"通往「{target}」的条件", condition.args[0]))
    definition = getattr(ts, "event_definition", None)
    if definition is not None and getattr(definition, "expression", None):
        out.append(_expression_problem("定时器表达式", definition.expression))
    for attr, kind in (("cardinality", "多实例次数"), ("condition", "多实例完成条件")):
        value = getattr(ts, attr, None)
        if isinstance(value, str) and value:
            out.append(_expression_problem(kind, value))
    if needs_deadline and not any(k in properties for k in DEADLINE_KEYS) and properties.get("no_deadline") != "true":
        out.append("用户任务没有期限：请设置 due_working_days（或 due_date_from 等），确无期限的设 no_deadline=true")
    return [p for p in out if p]


def dmn_problems(parser) -> list[dict]:
    """Entries of DMN tables that do not compile in the sandbox."""
    out = []
    for decision_id, dmn_parser in parser.dmn_parsers.items():
        try:
            dmn_parser.parse()
            tables = dmn_parser.decision.decisionTables
        except Exception as exc:  # the library raises raw errors on malformed tables
            out.append({"element": decision_id, "message": f"决策表无法解析：{translate(exc)}"})
            continue
        for table in tables:
            for rule in table.rules:
                for entry in rule.inputEntries:
                    for lhs in entry.lhs:
                        if not lhs or lhs.strip() == "-":
                            continue
                        text = lhs.replace("?", "dmninputexpr")
                        problem = (_expression_problem("输入条目", text) if "dmninputexpr" in text else
                                   _expression_problem("输入条目", f"dmninputexpr {lhs}") and
                                   _expression_problem("输入条目", lhs))
                        if problem:
                            out.append({"element": rule.id, "message": f"决策表 {decision_id} 第 {rule.row_number} 行："
                                                                       f"{problem}"})
    return out
