"""督办 items: the leading-group office's task for an overdue task at the ladder's top. It is not a
BPMN task (the escalation raises it beside the diagram); closing it records how it was dealt with: the
office's opinion, the slip's colour it chose (三色督办单) and, when it names the unit in the circular, a
``circular_naming`` row the circular of the period reads (the supervised task's department, the item's
matter, the opinion as the reason)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from engine.runtime import forms, projection
from engine.storage.models import AuditRecord, CircularNaming, HumanTask, ProcessInstance

SUPERVISION_FORM = Path(__file__).resolve().parents[2] / "processes" / "forms" / "supervision.schema.json"


@lru_cache(maxsize=1)
def supervision_form() -> dict:
    return json.loads(SUPERVISION_FORM.read_text(encoding="utf-8"))


def close(session: Session, who, task: HumanTask, data: dict, form_context: forms.FormContext, now) -> dict:
    """Validate the office's record, close the item and audit it; returns the cleaned record."""
    cleaned = forms.validate(supervision_form(), data, form_context)
    task.status = projection.COMPLETED
    task.completed_at = now
    task.completed_by_id = who.user_id
    task.next_escalation_at = None
    session.add(AuditRecord(instance_id=task.instance_id, task_id=task.id, action="complete",
                            actor=who.username, at=now, task_name=task.name, data=cleaned))
    if cleaned.get("name_in_circular"):
        _name(session, who, task, cleaned, now)
    session.flush()
    return cleaned


def _name(session: Session, who, task: HumanTask, cleaned: dict, now) -> None:
    """The office names the supervised unit in the circular of the period this falls in."""
    supervised = session.get(HumanTask, task.related_task_id) if task.related_task_id else None
    instance = session.get(ProcessInstance, task.instance_id)
    session.add(CircularNaming(
        named_at=now, named_by=who.username,
        department_id=supervised.department_id if supervised is not None else task.department_id,
        source="supervision", item_id=task.instance_id, task_id=task.id, colour=cleaned.get("slip_colour"),
        matter=(instance.title or instance.business_key)[:200], reason=cleaned["supervision_result"]))
