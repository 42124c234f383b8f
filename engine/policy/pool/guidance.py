"""拟培育库: enterprises one criterion short of the cultivation standard, listed for their industry department
with the gap, and the department's guidance visits.

``refresh`` runs the same decision as pool admission (engine.policy.pool.eligibility.decide) on one
enterprise's figures and rewrites its row in ``guidance_gap``; the registry calls it in the transaction
that saves the figures, so the department's page reads an indexed table and computes nothing.

One criterion short means: the standard's result is 不符合, nothing is undecided, and either exactly one
mandatory criterion fails while at least two optional ones pass, or every mandatory one passes and exactly
one optional one does (then any one of the failing optional criteria would do; each is listed).
"""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.identity.org import DepartmentDirectory
from engine.policy.pool.admission import inputs_of
from engine.policy.pool.eligibility import CRITERIA, DecisionFailed, decide, industries
from engine.storage.models import AuditRecord, Enterprise, GuidanceGap, GuidanceVisit

RECORD_ROLES = {"liaison", "department_head"}
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _number(value) -> float | None:
    if isinstance(value, dict):  # growth: the better of revenue and net profit
        known = [v for v in value.values() if v is not None]
        return max(known) if known else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def gap(criterion: dict) -> dict:
    """A failed criterion's gap: its value, the standard and by how much it falls short."""
    label, unit = CRITERIA[criterion["id"]]
    value, threshold = _number(criterion["value"]), str(criterion["threshold"] or "")
    found = NUMBER.search(threshold)
    shortfall = round(abs(float(found.group()) - value), 2) if found and value is not None else None
    shown = f"{value:,.2f}{unit}" if value is not None else ("否" if criterion["value"] is False else "—")
    text = f"{label}：{shown}，标准 {threshold}"
    if shortfall is not None:
        text += f"，{'超出' if threshold.startswith('≤') else '差'} {shortfall:,.2f}{unit}"
    return {"criterion": criterion["id"], "label": label, "value": value, "threshold": threshold,
            "shortfall": shortfall, "unit": unit, "text": text}


def near_miss(result: dict) -> list[dict]:
    """The gaps of an enterprise one criterion short of the standard; [] otherwise."""
    criteria = result["criteria"]
    if result["eligible"] is not False or any(c["passed"] is None for c in criteria):
        return []
    if any(c["id"] == "scope" and not c["passed"] for c in criteria):  # no guidance brings a firm into scope
        return []
    failed = [c for c in criteria if c["mandatory"] and not c["passed"]]
    optional_failed = [c for c in criteria if not c["mandatory"] and not c["passed"]]
    optional_passed = sum(1 for c in criteria if not c["mandatory"] and c["passed"])
    if len(failed) == 1 and optional_passed >= 2:
        return [gap(failed[0])]
    if not failed and optional_passed == 1:
        return [gap(c) for c in optional_failed]
    return []


def refresh(session: Session, decisions, enterprise: Enterprise, today: date, now: datetime) -> None:
    """Rewrite the enterprise's gap row from its current figures (the registry's save calls this)."""
    session.execute(delete(GuidanceGap).where(GuidanceGap.enterprise_id == enterprise.id))
    try:
        result = decide(inputs_of(enterprise, today), decisions)
    except DecisionFailed:  # a broken table: no list entry until it is redeployed and the figures saved
        return
    gaps = near_miss(result)
    department = next((i["department"] for i in industries() if i["name"] == enterprise.industry), None)
    if not gaps or department is None:
        return
    summary = gaps[0]["text"] if len(gaps) == 1 else "以下任一项达标即可：" + "；".join(g["text"] for g in gaps)
    session.add(GuidanceGap(enterprise_id=enterprise.id, enterprise_name=enterprise.name, department=department,
                            criterion=gaps[0]["criterion"], summary=summary[:500], gaps=gaps,
                            figures_year=result["last_year"], computed_at=now))


class GuidanceService:
    def __init__(self, db, clock, tz, decisions):
        self.db, self.clock, self.tz, self.decisions = db, clock, tz, decisions

    def refresh(self, session: Session, enterprise: Enterprise) -> None:
        now = self.clock()
        refresh(session, self.decisions.current(session), enterprise, now.astimezone(self.tz).date(), now)

    def refresh_all(self, batch: int = 200) -> int:
        """Every enterprise's gap again (a command, not a page: after the year turns, or for records saved
        before this list existed), in transactions of ``batch`` enterprises. Returns how many are listed."""
        last = 0
        while True:
            with self.db.write() as session:
                rows = session.scalars(select(Enterprise).where(Enterprise.id > last).order_by(Enterprise.id)
                                       .limit(batch)).all()
                for enterprise in rows:
                    self.refresh(session, enterprise)
            if len(rows) < batch:
                break
            last = rows[-1].id
        with self.db.read() as session:
            return session.scalar(select(func.count(GuidanceGap.id))) or 0

    @staticmethod
    def _department(session: Session, actor: Actor) -> str | None:
        """None: every department's list; else the actor's own department's."""
        if actor.sees_all:
            return None
        if not actor.roles & RECORD_ROLES or actor.department_id is None:
            raise PermissionDenied("只有行业主管部门的联络员、负责人可以查看拟培育库")
        return DepartmentDirectory.of(session).name_of(actor.department_id)

    def list(self, actor: Actor, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        with self.db.read() as session:
            mine = self._department(session, actor)
            where = [] if mine is None else [GuidanceGap.department == mine]
            total = session.scalar(select(func.count(GuidanceGap.id)).where(*where))
            rows = session.scalars(select(GuidanceGap).where(*where)
                                   .order_by(GuidanceGap.department, GuidanceGap.enterprise_name)
                                   .limit(limit).offset(offset)).all()
            ids = [r.enterprise_id for r in rows]
            visits: dict[int, list[dict]] = {i: [] for i in ids}
            for v in session.scalars(select(GuidanceVisit).where(GuidanceVisit.enterprise_id.in_(ids))
                                     .order_by(GuidanceVisit.visited_on.desc(), GuidanceVisit.id.desc())):
                visits[v.enterprise_id].append(_visit(v))
            return [{"enterprise_id": r.enterprise_id, "enterprise": r.enterprise_name, "department": r.department,
                     "criterion": r.criterion, "summary": r.summary, "gaps": r.gaps, "figures_year": r.figures_year,
                     "computed_at": r.computed_at, "visits": visits[r.enterprise_id],
                     "can_record": self._may_record(actor, mine, r.department)} for r in rows], total

    @staticmethod
    def _may_record(actor: Actor, mine: str | None, department: str) -> bool:
        return actor.is_admin or (mine == department and bool(actor.roles & RECORD_ROLES))

    def record_visit(self, actor: Actor, enterprise_id: int, raw: dict) -> int:
        """Record a guidance visit to a listed enterprise, with its audit record, in one transaction."""
        with self.db.write() as session:
            listed = session.scalar(select(GuidanceGap).where(GuidanceGap.enterprise_id == enterprise_id))
            mine = None if actor.is_admin else self._department(session, actor)
            if listed is None or (mine is not None and listed.department != mine):
                raise NotFound(f"企业 {enterprise_id} 不在本部门的拟培育库中")
            if not self._may_record(actor, mine, listed.department):
                raise PermissionDenied("只有该行业主管部门的联络员、负责人可以登记指导")
            data = _clean_visit(raw, self.clock().astimezone(self.tz).date())
            visit = GuidanceVisit(enterprise_id=enterprise_id, department=listed.department,
                                  recorded_by=actor.username, recorded_at=self.clock(), **data)
            session.add(visit)
            session.flush()
            session.add(AuditRecord(instance_id=None, action="guidance_visit", actor=actor.username,
                                    at=self.clock(), task_name="拟培育库指导",
                                    data={"visit": visit.id, "enterprise": listed.enterprise_name,
                                          "department": listed.department, "gap": listed.summary,
                                          **{k: str(v) for k, v in data.items()}}))
            return visit.id


def _clean_visit(raw: dict, today: date) -> dict:
    errors: dict[str, str] = {}
    out: dict = {}
    try:
        out["visited_on"] = date.fromisoformat(str(raw.get("visited_on") or "").strip())
        if out["visited_on"] > today:
            errors["visited_on"] = "「指导日期」不能晚于今天"
    except ValueError:
        errors["visited_on"] = "「指导日期」应为日期 YYYY-MM-DD"
    for key, title, limit in (("visitors", "指导人员", 200), ("advice", "指导内容", 2000),
                              ("next_step", "下一步", 1000)):
        text = str(raw.get(key) or "").strip()
        if not text:
            errors[key] = f"「{title}」为必填项"
        elif len(text) > limit:
            errors[key] = f"「{title}」不能超过 {limit} 字"
        out[key] = text
    if errors:
        raise ValidationFailed(errors, "指导记录有误")
    return out


def _visit(v: GuidanceVisit) -> dict:
    return {"id": v.id, "visited_on": v.visited_on, "visitors": v.visitors, "advice": v.advice,
            "next_step": v.next_step, "recorded_by": v.recorded_by, "recorded_at": v.recorded_at}
