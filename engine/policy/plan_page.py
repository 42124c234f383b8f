"""The policy page's read model: the plan clause by clause, what encodes each clause and its live state.

Live state is counts and ratings only, the same for every signed-in staff member (no item's details):
open steps of the tagged processes and elements (one grouped query over the open human_task rows, by
the status index), each measure's latest assessment, and the goals' figures for 一.
"""
from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.plan.clauses import Clause, action_plan
from engine.plan.tags import BPMN_NS, process_tags
from engine.policy.coverage import GOALS_CLAUSE, KIND_LABELS, Coverage, collect, latest_versions
from engine.policy.dispatch.figures import figure_list
from engine.policy.measures.reports import latest_status
from engine.policy.pool.goals import goals_in
from engine.runtime.projection import OPEN_STATUSES
from engine.storage.models import HumanTask, ProcessDefinition, ProcessInstance, ProcessVersion


def open_steps(session: Session) -> Counter:
    """(process key, element id) → open steps now."""
    rows = session.execute(
        select(ProcessDefinition.key, HumanTask.bpmn_id, func.count(HumanTask.id))
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .join(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
        .join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
        .where(HumanTask.status.in_(OPEN_STATUSES))
        .group_by(ProcessDefinition.key, HumanTask.bpmn_id))
    return Counter({(key, element): n for key, element, n in rows})


def _open_for(encoders, steps: Counter) -> int:
    whole = {e.process for e in encoders if e.process and e.element is None and e.kind == "process"}
    parts = {(e.process, e.element) for e in encoders if e.process and e.element and e.process not in whole}
    return sum(n for (key, element), n in steps.items() if key in whole or (key, element) in parts)


def _grouped(encoders) -> list[tuple[str, list[dict]]]:
    """(kind label, lines) per kind; a process's steps and a table's rules are one line each, with their names."""
    out: dict[str, dict[tuple, dict]] = {}
    for e in encoders:
        lines = out.setdefault(e.kind, {})
        if e.kind in ("element", "rule"):
            line = lines.setdefault((e.process, e.table, e.owner), {"label": e.owner, "process": e.process, "parts": []})
            line["parts"].append(e.part)
        else:
            lines[(e.kind, e.label)] = {"label": e.label, "process": e.process, "parts": []}
    unit = {"element": "个环节", "rule": "条规则"}
    return [(KIND_LABELS[kind], [{**line, "unit": unit.get(kind)} for line in lines.values()])
            for kind, lines in out.items()]


class PolicyPage:
    def __init__(self, db, tz: ZoneInfo, clock, extensions):
        self.db, self.tz, self.clock, self.extensions = db, tz, clock, extensions

    def coverage(self) -> Coverage:
        with self.db.read() as session:
            return collect(session, action_plan(), figure_list(), self.extensions.schedules())

    def page(self) -> dict:
        """The coverage figure and the plan's entries (headings and clauses with encoders and state)."""
        today = self.clock().astimezone(self.tz).date()
        with self.db.read() as session:
            found = collect(session, action_plan(), figure_list(), self.extensions.schedules())
            steps = open_steps(session)
            ratings = latest_status(session, today)
            goals = goals_in(session, today, self.tz)
        entries = []
        for entry in found.plan.entries:
            if not isinstance(entry, Clause):
                entries.append({"heading": entry.label, "level": entry.level})
                continue
            encoders = found.encoders.get(entry.id, [])
            measure = int(entry.id.split(".")[1]) if entry.kind == "measure" else None
            entries.append({
                "clause": entry, "encoded": bool(encoders),
                "kinds": _grouped(encoders),
                "open": _open_for(encoders, steps) if any(e.process for e in encoders) else None,
                "rating": ratings.get(measure) if measure else None,
                "goals": goals if entry.id == GOALS_CLAUSE else None})
        return {"coverage": found, "entries": entries, "today": today}

    def process_diagram(self, key: str) -> dict | None:
        """The latest version of a process: its diagram and each element's clauses, for the viewer."""
        with self.db.read() as session:
            version = next((v for v in latest_versions(session) if v.definition.key == key), None)
            if version is None:
                return None
            name, text = _process_file(version, key)
            if text is None:
                return None
            return {"key": key, "name": version.definition.name, "version": version.version, "file": name,
                    "bpmn": text, "deployed_at": version.deployed_at}


def _process_file(version, key: str) -> tuple[str | None, str | None]:
    for name, text in sorted((version.sources or {}).items()):
        if not name.endswith(".bpmn"):
            continue
        try:
            root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            continue
        if any(p.get("id") == key for p in root.iter(f"{{{BPMN_NS}}}process")):
            return name, text
    return None, None


def clause_elements(bpmn: str, key: str, clause: str) -> list[str]:
    """The ids of the elements of process ``key`` in ``bpmn`` tagged with ``clause``."""
    root = etree.fromstring(bpmn.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    out: list[str] = []
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == key:
            out += [t.element for t in process_tags(process) if t.element and clause in t.clauses]
    return out
