"""Clause tags in diagrams and decision tables: what element encodes which clause of the plan.

A BPMN process or flow element carries the spiffworkflow property ``clause`` (「二（二）」, several
comma separated: 「四（二）, 三.22」) — the same property list the designer's panel edits. A DMN rule
carries 〔条款：二（二）〕 in its annotation (the rule's ``description``, the 注释 column dmn-js edits),
so the tag round-trips through any DMN editor. The process property ``clauses_required=true`` makes
deployment refuse a flow node (task, event, gateway, sub-process) of that process without a tag.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from engine.plan.clauses import Plan, split_ids

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CLAUSE = "clause"
REQUIRED = "clauses_required"
FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
    "task", "userTask", "scriptTask", "serviceTask", "businessRuleTask", "manualTask", "sendTask",
    "receiveTask", "callActivity", "subProcess"})
# 〔条款：二（二）〕, also with 【】 or [] and a half-width colon, as people type it
RULE_TAG = re.compile(r"[〔【\[]\s*条款\s*[:：]\s*([^〕】\]]+)[〕】\]]")


@dataclass(frozen=True)
class Tag:
    """One tagged thing of a diagram or table: ``element`` is None for the process itself."""
    kind: str  # process | element | rule
    owner: str  # the process id, or the decision id of a rule
    element: str | None
    name: str
    clauses: tuple[str, ...]
    line: int | None = None


def _clause_property(node) -> str | None:
    for prop in node.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name") == CLAUSE:
            return prop.get("value") or ""
    return None


def local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def process_tags(process) -> list[Tag]:
    """The tags of one parsed ``bpmn:process`` element: its own, then its elements' at every depth."""
    pid = process.get("id")
    out = []
    own = _clause_property(process)
    if own is not None:
        out.append(Tag("process", pid, None, process.get("name") or pid, tuple(split_ids(own)), process.sourceline))
    for node in process.iter():
        if node is process or not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        value = _clause_property(node)
        if value is not None:
            out.append(Tag("element", pid, node.get("id"), node.get("name") or node.get("id") or local(node),
                           tuple(split_ids(value)), node.sourceline))
    return out


def untagged_nodes(process) -> list:
    """The flow nodes of a process (at every depth) that carry no clause."""
    return [node for node in process.iter() if local(node) in FLOW_NODES
            and etree.QName(node).namespace == BPMN_NS and not split_ids(_clause_property(node))]


def requires_clauses(process) -> bool:
    for prop in process.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name") == REQUIRED:
            return (prop.get("value") or "").strip().lower() == "true"
    return False


def rule_tags(root) -> list[Tag]:
    """The tagged rules of a parsed DMN file (any DMN version)."""
    out = []
    for decision in (e for e in root.iter() if local(e) == "decision"):
        for rule in (e for e in decision.iter() if local(e) == "rule"):
            description = next((c for c in rule if local(c) == "description"), None)
            text = description.text if description is not None and description.text else ""
            ids = [i for found in RULE_TAG.findall(text) for i in split_ids(found)]
            if ids:
                label = RULE_TAG.sub("", text).strip() or rule.get("id")
                out.append(Tag("rule", decision.get("id"), rule.get("id"), label, tuple(dict.fromkeys(ids)),
                               rule.sourceline))
    return out


def problems(tags: list[Tag], plan: Plan) -> list[tuple[Tag, str]]:
    """(tag, Chinese message) for every id a tag names that is no clause of the plan, and empty tags."""
    known = set(plan.ids)
    out = []
    for tag in tags:
        what = {"process": "流程", "element": "元素", "rule": "决策规则"}[tag.kind]
        unknown = [c for c in tag.clauses if c not in known]
        if unknown:
            out.append((tag, f"{what}「{tag.name}」的政策条款「{'」「'.join(unknown)}」不是行动计划中的条款"
                             f"（条款写作 一、二（二）、三.22、四（二），多个用逗号分隔）"))
        elif not tag.clauses and tag.kind != "rule":
            out.append((tag, f"{what}「{tag.name}」的政策条款（clause 属性）为空：请填写条款或删除该属性"))
    return out
