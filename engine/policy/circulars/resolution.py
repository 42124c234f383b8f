"""区经济信息委 resolves the objections to a circular's figures (处理通报数据异议): each accepted with the corrected
value (into the draft's table and text, the computed value kept) or refused with a reason; the unit is told.
"""
from __future__ import annotations

import copy
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, ValidationFailed
from engine.policy.circulars.document import issuer
from engine.policy.circulars.objections import RESOLVE_STEP, _circular, _value_error, shown
from engine.policy.circulars.service import draft_text
from engine.policy.dispatch.figures import rank, recount
from engine.storage.models import AuditRecord, Circular, CircularObjection, Department, User, UserRole

ACCEPTED_NOTE = "经核对，采纳单位意见"


def _checked(objections: list[CircularObjection], resolutions: list) -> dict[int, dict]:
    """Every open objection resolved exactly once; a refusal has its reason; a correction a valid value."""
    open_ids = {o.id: o for o in objections}
    errors: dict[str, str] = {}
    out: dict[int, dict] = {}
    for i, r in enumerate(resolutions):
        oid, decision = r.get("objection_id"), r.get("decision")
        note = str(r.get("note") or "").strip()
        if oid not in open_ids:
            errors[f"resolutions[{i}].objection_id"] = f"异议 {oid} 不是本通报待处理的异议"
            continue
        if oid in out:
            errors[f"resolutions[{i}].objection_id"] = f"异议 {oid} 重复处理"
            continue
        objection = open_ids[oid]
        if decision == "refused":
            if len(note) < 2:
                errors[f"resolutions[{i}].note"] = "不予采纳的，请填写「处理说明」写明理由（至少 2 个字）"
            out[oid] = {"decision": "refused", "note": note[:1000]}
        elif decision == "accepted":
            value = r.get("corrected", objection.claimed)
            value = objection.claimed if value is None else value
            problem = _value_error(objection.figure, value, None)
            if problem:
                errors[f"resolutions[{i}].corrected"] = f"「更正后的数值」{problem}"
            out[oid] = {"decision": "accepted", "note": note[:1000] or ACCEPTED_NOTE, "corrected": value}
        else:
            errors[f"resolutions[{i}].decision"] = "请选择「处理结果」：采纳并更正，或不予采纳"
    missing = [str(i) for i in open_ids if i not in out]
    if missing and not errors:
        errors["resolutions"] = f"还有异议未处理（编号 {'、'.join(missing)}），每条异议都须作出处理"
    if errors:
        raise ValidationFailed(errors, "通报数据异议的处理有误")
    return out


def _correction_block(corrections: list[dict]) -> list[str]:
    return ["经核对更正："] + [
        f"{i}. {c['department']}「{c['label']}」：系统统计为 {shown(c['figure'], c['computed'])}，"
        f"经核对更正为 {shown(c['figure'], c['corrected'])}（{c['note'].rstrip('。')}）。"
        for i, c in enumerate(corrections, 1)]


def corrected_text(circular: Circular, before: dict, corrections: list[dict]) -> str:
    """The draft's text with the corrections: regenerated when 区经济信息委 had not edited it, and in either
    case a 「经核对更正」 note before the 落款 (ISSUER)."""
    text = circular.text
    if text == draft_text(circular.title, before):
        text = draft_text(circular.title, circular.figures)
    lines = text.split("\n")
    block = _correction_block(corrections)
    signed = issuer()
    at = max((i for i, line in enumerate(lines) if line.strip() == signed), default=len(lines))
    return "\n".join([*lines[:at], *block, "", *lines[at:]])


def _rerank(figures: dict, corrections: list[dict]) -> None:
    """A corrected count moves its rate, the ranking and who the figures name (a unit whose 督办 count is
    corrected to 0 is no longer asked for a rectification report); the units the office named stay named."""
    corrected: dict[str, set[str]] = {}
    for c in corrections:
        corrected.setdefault(c["department"], set()).add(c["figure"])
    for row in figures["table"]:
        if row["department"] in corrected:
            recount(row, corrected[row["department"]])
    figures["table"], figures["named_for_criticism"] = rank(figures["table"])


def _tell(session: Session, notifier, base_url: str, circular: Circular, objection: CircularObjection,
          now: datetime) -> None:
    if notifier is None:
        return
    from notifications.outbox import Notice

    users = list(session.scalars(select(User).join(UserRole).where(
        User.department_id == objection.department_id, User.active.is_(True),
        UserRole.role.in_(("liaison", "department_head")))).unique())
    accepted = objection.status == "accepted"
    notifier.notify(session, Notice(
        key=f"circular_objection:{objection.id}", template="circular_objection_resolved",
        context={"title": circular.title, "figure": objection.figure_label,
                 "computed": shown(objection.figure, objection.computed),
                 "claimed": shown(objection.figure, objection.claimed),
                 "outcome": "已采纳" if accepted else "未采纳",
                 "corrected": shown(objection.figure, objection.corrected) if accepted else "",
                 "note": objection.resolution_note or ""},
        link=f"{base_url}/circulars/{circular.id}"), users, objection.department_id, now)


def resolve_in(session: Session, circular_id: int, resolutions: list, actor, now: datetime,
               instance_id: int | None, notifier=None, base_url: str = "") -> dict:
    """Resolve every open objection of the circular at once; returns the draft's new text."""
    circular = _circular(session, circular_id)
    if instance_id is not None and circular.instance_id != instance_id:
        raise ValidationFailed({"circular_id": f"通报 {circular_id} 不是本流程实例起草的"})
    if circular.status != "draft":
        raise Conflict(f"{circular.number} 已发布，不能再更正")
    objections = list(session.scalars(select(CircularObjection).where(
        CircularObjection.circular_id == circular.id, CircularObjection.status == "open")
        .order_by(CircularObjection.id)))
    decided = _checked(objections, list(resolutions or []))
    names = dict(session.execute(select(Department.id, Department.name)
                                 .where(Department.id.in_({o.department_id for o in objections}))).all())
    before = copy.deepcopy(circular.figures)
    figures = copy.deepcopy(circular.figures)
    corrections = []
    for o in objections:
        d = decided[o.id]
        o.status, o.resolution_note, o.resolved_by, o.resolved_at = d["decision"], d["note"], actor.username, now
        if d["decision"] == "accepted":
            o.corrected = float(d["corrected"])
            row = next(r for r in figures["table"] if r["department"] == names[o.department_id])
            row[o.figure] = o.corrected if o.figure.endswith("rate") else int(o.corrected)
            corrections.append({"department": names[o.department_id], "figure": o.figure, "label": o.figure_label,
                                "computed": o.computed, "corrected": o.corrected, "note": o.resolution_note,
                                "objection_id": o.id})
        session.add(AuditRecord(instance_id=instance_id, action="objection_resolved", actor=actor.username, at=now,
                                task_name=RESOLVE_STEP, data={
                                    "objection_id": o.id, "department": names[o.department_id], "figure": o.figure,
                                    "computed": o.computed, "claimed": o.claimed, "decision": o.status,
                                    "corrected": o.corrected, "note": o.resolution_note}))
    if corrections:
        _rerank(figures, corrections)
        figures["corrections"] = [*(figures.get("corrections") or []), *corrections]
        circular.figures = figures  # a new object: the JSON column sees the change
        circular.text = corrected_text(circular, before, corrections)
    session.flush()
    for o in objections:
        _tell(session, notifier, base_url, circular, o, now)
    return {"text": circular.text, "accepted": len(corrections), "refused": len(objections) - len(corrections)}
