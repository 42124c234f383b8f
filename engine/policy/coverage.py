"""What encodes each clause of the action plan, and the coverage figure (clauses encoded / all clauses).

Encoders come from the latest deployed version of every process (its clause tags, stored with the
version by the registry) and the decision tables those versions use (tagged rules), the evaluation
figures (Figure.clause), the measure table (measure N encodes 三.N: it is supervised as data, reported
and rated every quarter), the periodic starts (DefaultSchedule.clause, once created) and the goals
(一: engine.policy.pool.goals counts them). A clause with at least one encoder is encoded.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from threading import Lock

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.plan.clauses import Plan, split_ids
from engine.plan.tags import local, rule_tags
from engine.storage.models import Measure, ProcessDefinition, ProcessSchedule, ProcessVersion

GOALS_CLAUSE = "一"
GOALS_LABEL = "发展目标完成情况（培育库统计：新培育、市级专精特新、小巨人）"
KIND_LABELS = {"process": "流程", "element": "流程环节", "rule": "决策规则", "figure": "通报指标",
               "measure": "措施督导", "schedule": "定期启动", "goal": "目标统计"}


@dataclass(frozen=True)
class Encoder:
    kind: str  # a key of KIND_LABELS
    label: str
    process: str | None = None  # process key: links to its diagram, counts its open items
    element: str | None = None  # element id in that process (None: the whole process)
    table: str | None = None  # decision id of a rule
    measure: int | None = None
    owner: str | None = None  # the process's or table's name, for an element or a rule
    part: str | None = None  # the element's or rule's own name


@dataclass
class Coverage:
    plan: Plan
    encoders: dict[str, list[Encoder]] = field(default_factory=dict)  # clause id → encoders

    @property
    def encoded(self) -> list[str]:
        return [c for c in self.plan.ids if self.encoders.get(c)]

    @property
    def total(self) -> int:
        return len(self.plan.ids)

    @property
    def percent(self) -> int:
        return round(100 * len(self.encoded) / self.total) if self.total else 0

    @property
    def label(self) -> str:
        return f"已编码条款 {len(self.encoded)} / {self.total}（{self.percent}%）"


def coverage(plan: Plan, found: Iterable[tuple[str, Encoder]]) -> Coverage:
    """The coverage of ``plan`` by (clause id, encoder) pairs; ids the plan lacks are left out."""
    known = set(plan.ids)
    out = Coverage(plan)
    for clause, encoder in found:
        if clause in known and encoder not in out.encoders.setdefault(clause, []):
            out.encoders[clause].append(encoder)
    return out


def version_encoders(key: str, name: str, stored_tags: list) -> list[tuple[str, Encoder]]:
    """The pairs of one process version's stored clause tags ([element, name, clauses] each)."""
    out: list[tuple[str, Encoder]] = []
    for element, label, clauses in stored_tags:
        kind = "process" if element is None else "element"
        encoder = Encoder(kind, name if element is None else f"{name} · {label}", process=key, element=element,
                          owner=name, part=None if element is None else label)
        out.extend((c, encoder) for c in clauses)
    return out


def table_encoders(sources: dict[str, str]) -> list[tuple[str, Encoder]]:
    """The pairs of the tagged rules of DMN files (file name → text)."""
    return [pair for _name, text in sorted(sources.items()) for pair in _rule_encoders(text)]


@lru_cache(maxsize=64)  # the same deployed table text on every page load
def _rule_encoders(text: str) -> tuple[tuple[str, Encoder], ...]:
    try:
        root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return ()  # deployed files parsed when they were deployed; nothing to show of a broken one
    names = {e.get("id"): e.get("name") or e.get("id") for e in root.iter() if local(e) == "decision"}
    out: list[tuple[str, Encoder]] = []
    for tag in rule_tags(root):
        table = names.get(tag.owner, tag.owner)
        encoder = Encoder("rule", f"{table} · {tag.name}", table=tag.owner, element=tag.element, owner=table,
                          part=tag.name)
        out.extend((c, encoder) for c in tag.clauses)
    return tuple(out)


class _VersionCache:
    """Stored tags and tables of process versions by id (versions never change once deployed)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._tags: dict[int, tuple[list, dict[str, str]]] = {}

    def get(self, version: ProcessVersion) -> tuple[list, dict[str, str]]:
        with self._lock:
            found = self._tags.get(version.id)
        if found is None:
            tags = json.loads(version.spec_json).get("clause_tags") or []
            tables = {n: t for n, t in (version.sources or {}).items() if n.endswith(".dmn")}
            found = (tags, tables)
            with self._lock:
                self._tags[version.id] = found
        return found


_CACHE = _VersionCache()


def latest_versions(session: Session) -> list[ProcessVersion]:
    """The latest version of every process (one row per process: O(processes), not O(versions))."""
    newest = (select(ProcessVersion.definition_id, func.max(ProcessVersion.version).label("v"))
              .group_by(ProcessVersion.definition_id).subquery())
    return list(session.scalars(
        select(ProcessVersion).join(newest, (ProcessVersion.definition_id == newest.c.definition_id)
                                    & (ProcessVersion.version == newest.c.v))
        .join(ProcessDefinition).order_by(ProcessDefinition.key)))


def collect(session: Session, plan: Plan, figures: Iterable, schedules: Iterable) -> Coverage:
    """The coverage as deployed now: ``figures`` (objects with id, label, clause) and ``schedules``
    (DefaultSchedule: name, process, clause) are the procedures' own declarations."""
    found: list[tuple[str, Encoder]] = []
    tables: dict[str, str] = {}
    for version in latest_versions(session):
        tags, version_tables = _CACHE.get(version)
        found += version_encoders(version.definition.key, version.definition.name, tags)
        tables.update(version_tables)
    found += table_encoders(tables)
    for figure in figures:
        found += [(c, Encoder("figure", f"{figure.label}：{figure.definition}")) for c in split_ids(figure.clause)]
    for no, title in session.execute(select(Measure.no, Measure.title).order_by(Measure.no)):
        found.append((f"三.{no}", Encoder("measure", f"措施 {no}「{title}」：按季度报告进展、评定", measure=no)))
    created = set(session.scalars(select(ProcessSchedule.name)))
    for schedule in schedules:
        if schedule.name in created:
            found += [(c, Encoder("schedule", f"{schedule.name}（{schedule.rule}）", process=schedule.process))
                      for c in split_ids(schedule.clause)]
    found.append((GOALS_CLAUSE, Encoder("goal", GOALS_LABEL)))
    return coverage(plan, found)
