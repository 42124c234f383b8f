"""督办 items: the leading-group office's task for an overdue task at the ladder's top. It is not a
BPMN task (the escalation raises it beside the diagram); closing it records how it was dealt with."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from engine.runtime import forms, projection
from engine.storage.models import AuditRecord, HumanTask

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
    session.flush()
    return cleaned
