"""A task as the JSON API gives it (``GET /api/v1/tasks/<id>``): two statements, whatever the item holds — the task
with its item's visibility, its department's name and its version's forms, then the item's history with each
actor's name and department. The task page (``Queries.task_detail``) shows much more: its matter card needs the
item's state, its comments and files, the users' names; the API needs none of that.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, true
from sqlalchemy.orm import Session, aliased

from engine.errors import TaskNotFound
from engine.identity import authz
from engine.queries.matter import SYSTEM_ACTORS
from engine.queries.pauses import audit_fields
from engine.runtime.projection import OPEN_STATUSES, STATUS_LABELS
from engine.storage.models import AuditRecord, Department, HumanTask, ProcessInstance, ProcessVersion, User

# Built once, with the values bound at each call: building a statement's expressions costs more than running it.
_MINE, _STEP = aliased(HumanTask, name="mine"), aliased(HumanTask, name="step")


def _task_query(seen):
    return (select(HumanTask, Department.name, ProcessVersion.forms, seen)
            .join(Department, Department.id == HumanTask.department_id)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
            .where(HumanTask.id == bindparam("task_id")))


_TASK = _task_query(authz.on_item(bindparam("department_id"), HumanTask.instance_id, _MINE))
_TASK_SEEN_BY_ALL = _task_query(true())  # the central roles see every item of their district
_HISTORY = (select(AuditRecord, User.display_name, Department.name, _STEP.form)
            .outerjoin(User, User.username == AuditRecord.actor)
            .outerjoin(Department, Department.id == User.department_id)
            .outerjoin(_STEP, _STEP.id == AuditRecord.task_id)
            .where(AuditRecord.instance_id == bindparam("instance_id")).order_by(AuditRecord.id))


def brief(session: Session, actor: authz.Actor, task_id: int, tz: ZoneInfo, labels, readable) -> dict:
    """The task, its department, whether ``actor`` may act on it, and its item's history (TaskNotFound for what
    the actor may not see). ``labels``: audit action → label; ``readable(schema, data)``: a step's fields."""
    if actor.sees_all:
        row = session.execute(_TASK_SEEN_BY_ALL, {"task_id": task_id}).first()
    else:
        row = session.execute(_TASK, {"task_id": task_id, "department_id": actor.department_id}).first()
    if row is None or not row[3]:
        raise TaskNotFound(task_id)
    task, department, forms, _ = row
    forms = forms or {}
    if task.form and (forms.get(task.form) or {}).get("x-private") and not authz.can_see_task(actor, task):
        raise TaskNotFound(task_id)  # a unit's own row of a circular to check
    return {"task": task, "department": department, "status_label": STATUS_LABELS[task.status],
            "can_act": task.status in OPEN_STATUSES and authz.can_act(actor, task),
            "history": _history(session, task.instance_id, forms, tz, labels, readable)}


def _history(session: Session, instance_id: int, forms: dict, tz: ZoneInfo, labels, readable) -> list[dict]:
    out = []
    for a, name, department, form in session.execute(_HISTORY, {"instance_id": instance_id}):
        out.append({"at": a.at.astimezone(tz), "actor": _person(a.actor, name, department),
                    "action": labels.get(a.action, a.action), "code": a.action, "task": a.task_name,
                    "data": a.data or {},
                    "fields": readable(forms.get(form or ""), a.data) if a.action in ("complete", "start")
                    else audit_fields(a.action, a.data, tz)})
    return out


def _person(username: str | None, name: str | None, department: str | None) -> str:
    """As the task page names people (engine.queries.matter.person): 「name（department）」."""
    if username is None:
        return "系统"
    if username.startswith("enterprise:"):
        return "企业（企业服务平台）"
    if name is not None and department is not None:
        return name if department in name else f"{name}（{department}）"
    return SYSTEM_ACTORS.get(username, username)
