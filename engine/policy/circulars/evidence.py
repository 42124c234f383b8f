"""What a circular's or the dashboard's figure is made of (通报依据): the items behind a department's figure,
the enterprises behind a development figure.

A published circular reads the lists frozen with it at publication (``figures["evidence"]`` and
``figures["development"]``); a draft and the dashboard compute them live, as at the period's end, from the
same pass that counts (engine.policy.dispatch.figures.compute with members). Since every figure is
computed as at the period's end, recomputing a published period later gives the same lists.

A liaison (or department head) reads their own department's lists only; the dispatcher, the office, the
district leaders and admins read every department's.
"""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.policy.circulars import development
from engine.policy.dispatch.figures import PART_LABELS, RATE_PARTS, compute, figure_list
from engine.storage.models import Circular, Department

ALL_DEPARTMENTS = {"dispatcher", "leading_group_office", "group_leader", "deputy_group_leader", "admin"}


def freeze(session: Session, circular: Circular, tz: ZoneInfo) -> dict:
    """The circular's figures with the lists behind them, to be stored as it is published."""
    start, end = circular.period_start, circular.period_end
    lists = compute(session, start, end, tz, with_members=True)["evidence"]
    return {**circular.figures, "evidence": lists, "development": development.section(session, start, end, tz)}


def _department(session: Session, actor: Actor, name: str | None) -> Department:
    """The department asked for, if the actor may read its lists."""
    department = session.scalar(select(Department).where(Department.name == (name or "").strip())) if name else None
    if department is None:
        raise ValidationFailed({"department": f"「单位」{name or ''}不存在" if name else "请指定「单位」"}, "单位有误")
    if not (actor.is_admin or actor.roles & ALL_DEPARTMENTS) and actor.department_id != department.id:
        raise PermissionDenied("只能查看本单位的统计依据")
    return department


def _lists(figure: str, table: list[dict], lists: dict[str, dict[str, list]], department: str) -> dict:
    """A department's figure: its value and the lists it counts (a rate: numerator, then denominator)."""
    names = {f.id: f.label for f in figure_list()}
    if figure not in names:
        raise ValidationFailed({"figure": f"「指标」{figure} 不存在" if figure else "请指定「指标」"}, "指标有误")
    row = next((r for r in table if r["department"] == department), None)
    own = lists.get(department, {})
    parts = RATE_PARTS.get(figure, (figure,))

    def one(part: str) -> dict:
        members = own.get(part, [])
        value = row.get(part) if row is not None and part in row else sum(m["amount"] for m in members)
        return {"id": part, "label": names.get(part) or PART_LABELS.get(part, part), "value": value,
                "members": members}

    return {"figure": figure, "label": names[figure], "department": department,
            "value": row.get(figure) if row is not None else (None if figure in RATE_PARTS else 0),
            "rate": figure in RATE_PARTS, "lists": [one(p) for p in parts]}


def _enterprises(section: dict, figure: str) -> dict:
    """A figure (or goal) of the development section: the enterprises it counts."""
    found = development.find(section, figure)
    if found is None or found.get("members") is None:
        raise ValidationFailed({"figure": f"「指标」{figure} 不存在"}, "指标有误")
    label = found.get("label") or found.get("goal")
    value = found.get("actual", found.get("value"))
    return {"figure": figure, "label": label, "department": None, "value": value, "rate": False, "enterprises": True,
            "lists": [{"id": figure, "label": label, "value": value, "members": found["members"]}]}


class Evidence:
    def __init__(self, db, tz: ZoneInfo, clock):
        self.db, self.tz, self.clock = db, tz, clock

    def readable(self, actor: Actor) -> set[str] | None:
        """The departments whose lists ``actor`` may read: none for all, else their own (a page links only those)."""
        if actor.is_admin or actor.roles & ALL_DEPARTMENTS:
            return None
        with self.db.read() as session:
            name = session.scalar(select(Department.name).where(Department.id == actor.department_id))
        return {name} if name else set()

    def _circular(self, session: Session, circular_id: int, include_drafts: bool) -> Circular:
        circular = session.get(Circular, circular_id) if 0 < circular_id < 2**63 else None
        if circular is None or (circular.status != "published" and not include_drafts):
            raise NotFound(f"通报 {circular_id} 不存在")
        return circular

    def of_circular(self, actor: Actor, circular_id: int, include_drafts: bool, department: str | None,
                    figure: str) -> dict:
        """A figure of a circular: a department's (``department`` given) or of the development section."""
        with self.db.read() as session:
            circular = self._circular(session, circular_id, include_drafts)
            frozen = circular.status == "published" and "evidence" in circular.figures
            head = {"circular_id": circular.id, "title": circular.number or circular.title, "frozen": frozen,
                    "period": [circular.period_start.isoformat(), circular.period_end.isoformat()]}
            if not department:
                return {**head, **self._development(session, circular, frozen, figure)}
            name = _department(session, actor, department).name
            if frozen:
                table, lists = circular.figures["table"], circular.figures["evidence"]
            else:
                live = compute(session, circular.period_start, circular.period_end, self.tz, with_members=True)
                table, lists = live["table"], live["evidence"]
            found = _lists(figure, table, lists, name)
            # An objection accepted before approval corrected the table's value; the lists are what was computed.
            fixed = next((x for x in circular.figures.get("corrections") or []
                          if x.get("department") == name and x.get("figure") == figure), None)
            if fixed is not None:
                found.update(value=fixed.get("computed"), corrected=fixed.get("corrected"), note=fixed.get("note"))
            return {**head, **found}

    def _development(self, session: Session, circular: Circular, frozen: bool, figure: str) -> dict:
        section = (circular.figures.get("development") if frozen else
                   development.section(session, circular.period_start, circular.period_end, self.tz))
        return _enterprises(section or {}, figure)

    def of_dashboard(self, actor: Actor, department: str | None, figure: str) -> dict:
        """A department's figure on the dashboard, or (no department) a goal's enterprises: this month so far, live."""
        today = self.clock().astimezone(self.tz).date()
        start = date(today.year, today.month, 1)
        head = {"circular_id": None, "title": f"{today.year}年{today.month}月办理统计（截至今日）", "frozen": False,
                "period": [start.isoformat(), today.isoformat()]}
        if not department:
            with self.db.read() as session:
                section = development.section(session, start, today, self.tz)
            return {**head, **_enterprises(section, figure)}
        with self.db.read() as session:
            name = _department(session, actor, department).name
            live = compute(session, start, today, self.tz, with_members=True)
        return {**head, **_lists(figure, live["table"], live["evidence"], name)}
