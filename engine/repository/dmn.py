"""Decision tables (DMN) checked on their own: what SpiffWorkflow's DMN parser accepts silently or
answers with a raw error, and the summary ``zjtx validate`` prints for a table that passes.

SpiffWorkflow 3.2 reads one decision per file and only decision tables; a rule with fewer entries
than the table has inputs parses and fails (or matches wrongly) when it is evaluated. Entries are
Python, checked in the sandbox by :func:`engine.repository.validation.dmn_problems`.
"""
from __future__ import annotations

import re
from typing import TypedDict

from lxml import etree

from engine.repository.contents import namespace
from engine.repository.validation import expression_problem


class DecisionSummary(TypedDict):
    """One entry of ``decisions`` in ``zjtx validate --json`` (stable)."""
    file: str
    id: str
    name: str | None
    hit_policy: str
    inputs: int
    outputs: int
    rules: int
    used_by: list[str]  # deployed or deployed-with processes that use the table


class ValidationReport(TypedDict):
    """``zjtx validate --json`` (stable)."""
    ok: bool
    problems: list[dict]
    decisions: list[DecisionSummary]


def _where(element: etree._Element | None, fallback: str | None = None) -> dict:
    if element is None:
        return {"element": fallback, "line": None}
    return {"element": element.get("id") or fallback, "line": element.sourceline}


def structure_problems(root: etree._Element) -> list[dict]:
    """``{message, element, line}`` for each thing in a DMN file the engine cannot use."""
    ns = namespace(root)
    decisions = root.findall(f"{{{ns}}}decision")
    if not decisions:
        return [{"message": "文件中没有决策（decision）", "element": root.get("id"), "line": root.sourceline}]
    if len(decisions) > 1:
        ids = "、".join(d.get("id") or "（无 id）" for d in decisions)
        return [{"message": f"一个 DMN 文件只能有一个决策，本文件有 {len(decisions)} 个（{ids}）：请分成多个文件",
                 **_where(decisions[1])}]
    decision = decisions[0]
    if not decision.get("id"):
        return [{"message": "决策缺少 id", **_where(decision)}]
    tables = decision.findall(f"{{{ns}}}decisionTable")
    if not tables:
        return [{"message": f"决策 {decision.get('id')} 不是决策表（本系统只支持决策表 decisionTable）",
                 **_where(decision)}]
    out = []
    for table in tables:
        out.extend(_table_problems(ns, decision.get("id"), table))
    return out


def _table_problems(ns: str, decision_id: str, table: etree._Element) -> list[dict]:
    inputs, outputs = table.findall(f"{{{ns}}}input"), table.findall(f"{{{ns}}}output")
    out = []
    if not outputs:
        out.append({"message": f"决策表 {decision_id} 没有输出（output）", **_where(table, decision_id)})
    for item in inputs:
        expression = item.find(f"{{{ns}}}inputExpression/{{{ns}}}text")
        text = (expression.text or "").strip() if expression is not None else ""
        problem = expression_problem("输入表达式", text) if text else "输入缺少表达式（inputExpression）"
        if problem:
            out.append({"message": f"决策表 {decision_id} 的输入「{item.get('label') or ''}」：{problem}",
                        **_where(item, decision_id)})
    for number, rule in enumerate(table.findall(f"{{{ns}}}rule"), start=1):
        where = _where(rule, decision_id)
        label = f"决策表 {decision_id} 第 {number} 条规则"
        for tag, count, kind in (("inputEntry", len(inputs), "输入"), ("outputEntry", len(outputs), "输出")):
            entries = rule.findall(f"{{{ns}}}{tag}")
            if len(entries) != count:
                out.append({"message": f"{label}有 {len(entries)} 个{kind}条目，决策表有 {count} 个{kind}", **where})
        for entry in rule.findall(f"{{{ns}}}outputEntry"):
            text = (entry.findtext(f"{{{ns}}}text") or "").strip()
            problem = expression_problem("输出条目", text) if text else None
            if problem:
                out.append({"message": f"{label}：{problem}", **_where(entry, where["element"])})
    return out


def located(root: etree._Element, line: int | None, message: str) -> str | None:
    """The id of the element a schema message speaks of (``Element '{ns}decisionTable', …`` on
    ``line``), or of its nearest ancestor with an id: the library names none."""
    found = re.search(r"Element '(?:\{[^}]*\})?([\w.-]+)'", message)
    if not line or not found:
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and element.sourceline == line and \
                element.tag.rpartition("}")[2] == found.group(1):
            while element is not None and not element.get("id"):
                element = element.getparent()
            return element.get("id") if element is not None else None
    return None


def summaries(parser, used_by: dict[str, list[str]]) -> list[DecisionSummary]:
    """Each parsed decision: id, name, hit policy, numbers of inputs, outputs and rules."""
    out: list[DecisionSummary] = []
    for decision_id, dmn_parser in sorted(parser.dmn_parsers.items(), key=lambda kv: kv[1].filename or ""):
        try:
            dmn_parser.parse()
            decision = dmn_parser.decision
            table = decision.decisionTables[0]
        except Exception:  # reported as a problem already
            continue
        out.append({"file": dmn_parser.filename, "id": decision_id, "name": decision.name or None,
                    "hit_policy": table.hit_policy, "inputs": len(table.inputs), "outputs": len(table.outputs),
                    "rules": len(table.rules), "used_by": sorted(used_by.get(decision_id, []))})
    return out
