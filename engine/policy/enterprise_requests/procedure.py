"""The enterprise portal's part in problem_dispatch: the dispatcher's 审核通过 releases the answer to the
enterprise (an ``answer_released`` record of the answer as accepted and its lead unit), and an item the
enterprise submitted itself tells its contact, through the outbox (email or SMS, as the extension and merge
notices do), when it is accepted (受理), answered (the release) and closed — each in the transaction of the
step, audited on the item as 已告知企业 or 未能告知企业."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.policy.enterprise_requests.service import RELEASED, SOURCE, by_enterprise
from engine.runtime.extensions import Procedure
from engine.runtime.notices import matter_of
from engine.storage.models import AuditRecord, ProcessInstance

CLOSED = {"已办结": "已办结", "已办结（未回访）": "已办结", "不予受理": "不予受理"}
TOLD = ("enterprise_told", "enterprise_not_reached")


def submitted_by_enterprise(instance: ProcessInstance, data: dict) -> bool:
    """An item the enterprise itself submitted in the portal (started by its actor, with the portal's source)."""
    return by_enterprise(instance.started_by) and data.get("source") == SOURCE


def tell(services, session: Session, instance: ProcessInstance, data: dict, event: str, context: dict,
         now: datetime) -> list[dict]:
    """Tell the enterprise's contact of ``event`` (accepted, answered, closed) when the item is its own. Each
    message's key is its place among the item's messages to the enterprise, so none is ever a duplicate."""
    from engine.policy.dispatch.merging import contact_of
    from notifications.channels import Contact
    from notifications.outbox import Notice

    if not submitted_by_enterprise(instance, data):
        return []
    contact = data.get("contact")
    email, mobile = contact_of(contact)
    link = f"{services.settings.base_url.rstrip('/')}/qiye/items/{instance.id}"
    number = 1 + (session.scalar(select(func.count(AuditRecord.id)).where(
        AuditRecord.instance_id == instance.id, AuditRecord.action.in_(TOLD))) or 0)
    notice = Notice(key=f"enterprise_{event}:{instance.id}:{number}", template=f"enterprise_{event}",
                    context={"matter": matter_of(instance), "business_key": instance.business_key, **context},
                    link=link, data={"event": f"enterprise_{event}", "business_key": instance.business_key})
    reached = services.notifier.notify_contact(session, notice, Contact(label=str(contact), email=email, mobile=mobile),
                                               now) if email or mobile else []
    session.add(AuditRecord(instance_id=instance.id, action="enterprise_told" if reached else "enterprise_not_reached",
                            actor="system", at=now, data={"event": f"enterprise_{event}",
                                                          "to": [r["to"] for r in reached], "contact": str(contact)}))
    return reached


def _steps(services) -> dict:
    def handler(session: Session, instance: ProcessInstance, task, answer: dict, data: dict, actor: str,
                now: datetime) -> None:
        if answer.get("triage_decision") == "accept":
            tell(services, session, instance, data, "accepted", {}, now)
        elif task.stage == "review" and answer.get("review_decision") == "accept":
            number = 1 + (session.scalar(select(func.count(AuditRecord.id)).where(
                AuditRecord.instance_id == instance.id, AuditRecord.action == RELEASED)) or 0)
            released = {"answer": data.get("item_answer") or "", "lead_department": data.get("lead_department") or "",
                        "number": number}
            session.add(AuditRecord(instance_id=instance.id, task_id=task.id, action=RELEASED, actor=actor, at=now,
                                    data=released))
            window = data.get("visit_due_date") or ""
            tell(services, session, instance, data, "answered", {**released, "rate_by": window}, now)
    return {"problem_dispatch": handler}


def _completions(services) -> dict:
    def handler(session: Session, instance: ProcessInstance, data: dict, now: datetime) -> None:
        status = data.get("item_status")
        if status in CLOSED:
            tell(services, session, instance, data, "closed",
                 {"outcome": CLOSED[status], "reason": data.get("triage_reason") or "" if status == "不予受理" else "",
                  "satisfied": data.get("satisfied") or ""}, now)
    return {"problem_dispatch": handler}


PROCEDURE = Procedure(key="enterprise_requests", label="企业自主提交诉求", processes=("problem_dispatch",),
                      step_handlers=_steps, completion_handlers=_completions)
