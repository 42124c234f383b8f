"""The joint meeting's agenda, built from what is open (each source through an indexed column, no instance's
state read):

- items under 挂牌督办: ``listed_supervision.status`` open;
- items rated 不满意 twice: the running problem items' completed 回访评价 tasks (human_task by bpmn_id and
  status), whose completion record (audit_record by instance) says 不满意, two or more per item;
- rulings pending: open human tasks of the steps remit_ruling, consultation, leader_ruling;
- measures rated 滞后: each measure's latest report (measure_report by period_end) assessed 滞后.

Each topic: {kind, kind_label, title, ref, item_id, note}; the dispatcher's own topics are kind ``added``."""
from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.policy.measures.reports import latest_status
from engine.policy.supervision.listing import OPEN as LISTING_OPEN
from engine.runtime.projection import COMPLETED, OPEN_STATUSES
from engine.storage.models import AuditRecord, Department, HumanTask, ListedSupervision, Measure, ProcessInstance

KINDS = {"listed": "挂牌督办事项", "unsatisfied": "两次评价不满意事项", "ruling": "待审定承办单位事项",
         "measure": "进展滞后措施", "added": "其他议题"}
RULING_STEPS = ("remit_ruling", "consultation", "leader_ruling")
UNSATISFIED_TIMES = 2


def _topic(kind: str, title: str, ref: str, item_id: int | None = None, note: str | None = None) -> dict:
    return {"kind": kind, "kind_label": KINDS[kind], "title": title[:200], "ref": ref, "item_id": item_id,
            "note": note}


def _item_title(item: ProcessInstance) -> str:
    return f"{item.business_key} {item.title or ''}".strip()


def listed(session: Session) -> list[dict]:
    rows = session.execute(select(ListedSupervision, ProcessInstance, Department.name)
                           .join(ProcessInstance, ProcessInstance.id == ListedSupervision.item_id)
                           .join(Department, Department.id == ListedSupervision.lead_department_id)
                           .where(ListedSupervision.status.in_(LISTING_OPEN)).order_by(ListedSupervision.id))
    return [_topic("listed", _item_title(item), item.business_key, item.id,
                   f"{listing.colour}牌督办，主办单位{lead}，期限{listing.deadline.isoformat()}：{listing.reason}")
            for listing, item, lead in rows]


def unsatisfied(session: Session) -> list[dict]:
    ratings = session.execute(
        select(HumanTask.id, HumanTask.instance_id).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.bpmn_id == "rating", HumanTask.status == COMPLETED, ProcessInstance.status == "running")).all()
    if not ratings:
        return []
    task_ids = {task_id for task_id, _ in ratings}
    times: Counter = Counter()
    for task_id, instance_id, data in session.execute(
            select(AuditRecord.task_id, AuditRecord.instance_id, AuditRecord.data)
            .where(AuditRecord.instance_id.in_(sorted({i for _, i in ratings})), AuditRecord.action == "complete")):
        if task_id in task_ids and (data or {}).get("satisfied") == "不满意":
            times[instance_id] += 1
    out = []
    for instance_id in sorted(i for i, n in times.items() if n >= UNSATISFIED_TIMES):
        item = session.get(ProcessInstance, instance_id)
        out.append(_topic("unsatisfied", _item_title(item), item.business_key, item.id,
                          f"企业{times[instance_id]}次评价不满意，当前状态：{item.item_status or '办理中'}"))
    return out


def rulings(session: Session) -> list[dict]:
    rows = session.execute(select(HumanTask, ProcessInstance).join(ProcessInstance)
                           .where(HumanTask.bpmn_id.in_(RULING_STEPS), HumanTask.status.in_(OPEN_STATUSES))
                           .order_by(HumanTask.id))
    seen: set[int] = set()
    out = []
    for task, item in rows:
        if item.id not in seen:
            seen.add(item.id)
            out.append(_topic("ruling", _item_title(item), item.business_key, item.id, f"待办步骤：{task.name}"))
    return out


def lagging(session: Session, as_of: date) -> list[dict]:
    status = latest_status(session, as_of)
    out = []
    for no in sorted(n for n, s in status.items() if s["assessment"] == "滞后"):
        measure = session.get(Measure, no)
        latest = status[no]
        out.append(_topic("measure", f"措施{no}：{measure.title if measure else ''}", f"措施{no}", None,
                          f"{latest['period_end']}止评定滞后，牵头单位{latest['lead']}"
                          + (f"：{latest['comment']}" if latest.get("comment") else "")))
    return out


def build(session: Session, as_of: date) -> list[dict]:
    return [*listed(session), *unsatisfied(session), *rulings(session), *lagging(session, as_of)]


def added(topics) -> list[dict]:
    """The dispatcher's own topics (the agenda form's ``added_topics``)."""
    return [_topic("added", str(t.get("title") or "").strip(), "", None, t.get("note"))
            for t in topics or () if isinstance(t, dict) and str(t.get("title") or "").strip()]
