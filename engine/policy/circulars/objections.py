"""Objections to a circular's figures before approval (通报数据核对与异议).

After 区经济信息委 finishes the draft, every leading-group member unit with a row in the circular's table
checks its own row within a window (the process property ``objection_window_working_days``, default 2
working days). It confirms, or contests figures of its own row (the value it claims, the reason); a unit
that lets the window pass is taken as having confirmed. 区经济信息委 resolves each objection: accepted —
the corrected value goes into the draft's table, the computed one is kept in ``figures["corrections"]``
and the text carries a 「经核对更正」 note — or refused with a reason. The unit is told of each resolution.
The office cannot approve (nor publish) while one is open. Each change is audited in its transaction.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied, ValidationFailed
from engine.policy.circulars.service import _fmt, table_columns
from engine.storage.models import AuditRecord, Circular, CircularObjection, Department

CHECK_STEP, RESOLVE_STEP = "核对本单位通报数据", "处理通报数据异议"
LAPSED_NOTE = "逾期未核对，视为无异议"
STATUS_LABELS = {"open": "待处理", "accepted": "已采纳，经核对更正", "refused": "未采纳"}
MAX_OBJECTIONS = 10


def _circular(session: Session, circular_id: int) -> Circular:
    circular = session.get(Circular, circular_id) if 0 < circular_id < 2**63 else None
    if circular is None:
        raise ValidationFailed({"circular_id": f"通报 {circular_id} 不存在"})
    return circular


def _row(circular: Circular, department: str) -> dict | None:
    return next((r for r in (circular.figures or {}).get("table") or [] if r.get("department") == department), None)


def _labels(circular: Circular) -> dict[str, str]:
    return {d["id"]: d["label"] for d in (circular.figures or {}).get("definitions") or []}


def shown(figure: str, value) -> str:
    """A figure's value as the circular prints it (rates with %, whole counts without a decimal point)."""
    if isinstance(value, float) and value.is_integer() and not figure.endswith("rate"):
        value = int(value)
    return _fmt(value, figure.endswith("rate"))


def checking_units(session: Session, circular_id: int) -> list[str]:
    """The leading-group member units with a row in the circular's table, in the table's order."""
    circular = _circular(session, circular_id)
    names = [r["department"] for r in circular.figures.get("table") or []]
    members = set(session.scalars(select(Department.name).where(Department.name.in_(names),
                                                                Department.leading_group_member.is_(True))))
    return [n for n in names if n in members]


def own_row(session: Session, circular_id: int, department: str) -> list[dict]:
    """The unit's own row as it checks it: [{figure, label, value}] (value as printed)."""
    circular = _circular(session, circular_id)
    row, labels = _row(circular, department) or {}, _labels(circular)
    return [{"figure": c, "label": labels.get(c, c), "value": shown(c, row.get(c))}
            for c in table_columns(circular.figures) if c in row]


def _value_error(figure: str, value, current) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        return "应为不小于 0 的数"
    if figure.endswith("rate"):
        if value > 100:
            return "比率应在 0 至 100 之间（单位 %）"
    elif not float(value).is_integer():
        return "件次、次数应为整数"
    if current is not None and float(value) == float(current):
        return f"与通报中的数值（{shown(figure, current)}）相同，无需提出异议"
    return None


def _checked(circular: Circular, department: str, objections: list) -> list[dict]:
    """The objections as given, each checked against the unit's own row; ValidationFailed names the field."""
    row = _row(circular, department)
    if row is None:
        raise ValidationFailed({"objections": f"{department}不在本期通报附表中，无可核对的数据"})
    allowed, errors, seen, out = set(table_columns(circular.figures)) & set(row), {}, set(), []
    if len(objections) > MAX_OBJECTIONS:
        errors["objections"] = f"一次最多提出 {MAX_OBJECTIONS} 条异议"
    for i, o in enumerate(objections[:MAX_OBJECTIONS]):
        figure, claimed, reason = o.get("figure"), o.get("claimed"), str(o.get("reason") or "").strip()
        if figure not in allowed:
            errors[f"objections[{i}].figure"] = "只能对本单位在通报附表中的数据提出异议，请从本单位的指标中选择"
            continue
        if figure in seen:
            errors[f"objections[{i}].figure"] = "同一指标只能提出一条异议"
        seen.add(figure)
        problem = _value_error(figure, claimed, row.get(figure))
        if problem:
            errors[f"objections[{i}].claimed"] = f"「本单位核实的数值」{problem}"
        if len(reason) < 2:
            errors[f"objections[{i}].reason"] = "请填写「异议理由」（至少 2 个字）"
        out.append({"figure": figure, "claimed": float(claimed) if not problem else None, "reason": reason[:1000],
                    "computed": row.get(figure)})
    if errors:
        raise ValidationFailed(errors, "通报数据异议有误")
    return out


def record_check_in(session: Session, circular_id: int, department: str, result: str, objections: list,
                    actor, now: datetime, instance_id: int | None) -> dict:
    """A unit's answer in the window: confirmed, or objections to figures of its own row (kept open)."""
    circular = _circular(session, circular_id)
    if instance_id is not None and circular.instance_id != instance_id:
        raise ValidationFailed({"circular_id": f"通报 {circular_id} 不是本流程实例起草的"})
    unit = session.scalar(select(Department).where(Department.name == department))
    if unit is None:
        raise ValidationFailed({"department": f"单位「{department}」不存在"})
    if not actor.is_admin and actor.department_id != unit.id:
        raise PermissionDenied(f"只能核对本单位（{department}）的通报数据")
    rows = _checked(circular, department, list(objections or [])) if result == "objected" else []
    if result == "objected" and not rows:
        raise ValidationFailed({"objections": "请至少填写一条异议（指标、本单位核实的数值、理由）"})
    labels = _labels(circular)
    for o in rows:
        session.add(CircularObjection(circular_id=circular.id, department_id=unit.id, figure=o["figure"],
                                      figure_label=labels.get(o["figure"], o["figure"]), computed=o["computed"],
                                      claimed=o["claimed"], reason=o["reason"], status="open",
                                      raised_by=actor.username, raised_at=now))
    session.add(AuditRecord(instance_id=instance_id, action="circular_checked", actor=actor.username, at=now,
                            task_name=CHECK_STEP, data={"department": department, "result": result,
                                                        "objections": [{k: o[k] for k in ("figure", "claimed", "reason")}
                                                                       for o in rows]}))
    session.flush()
    return {"department": department, "objections": len(rows)}


def lapse_in(session: Session, circular_id: int, department: str, now: datetime, instance_id: int | None) -> dict:
    """The window passed without the unit's answer: it is taken as having confirmed (audited so)."""
    _circular(session, circular_id)
    session.add(AuditRecord(instance_id=instance_id, action="circular_check_lapsed", actor="system", at=now,
                            task_name=CHECK_STEP, data={"department": department, "note": LAPSED_NOTE}))
    return {"department": department, "objections": 0}


def unresolved(session: Session, circular_id: int) -> int:
    return session.scalar(select(func.count()).select_from(CircularObjection).where(
        CircularObjection.circular_id == circular_id, CircularObjection.status == "open")) or 0


def listing(session: Session, circular_id: int, only_open: bool = False) -> list[dict]:
    """The circular's objections with the unit, the computed and claimed values and the resolution."""
    query = (select(CircularObjection, Department.name).join(Department, CircularObjection.department_id == Department.id)
             .where(CircularObjection.circular_id == circular_id).order_by(CircularObjection.id))
    if only_open:
        query = query.where(CircularObjection.status == "open")
    return [{"id": o.id, "department": name, "figure": o.figure, "label": o.figure_label,
             "computed": shown(o.figure, o.computed), "claimed": shown(o.figure, o.claimed), "reason": o.reason,
             "status": o.status, "status_label": STATUS_LABELS.get(o.status, o.status),
             "corrected": shown(o.figure, o.corrected) if o.corrected is not None else None,
             "note": o.resolution_note, "raised_by": o.raised_by, "resolved_by": o.resolved_by}
            for o, name in session.execute(query).all()]
