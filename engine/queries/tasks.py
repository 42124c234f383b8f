"""Task lists and instance views from the projection tables (never deserialising instances, except
``show``, which reads one instance's current data)."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import EngineError, InstanceNotFound
from engine.identity import authz
from engine.identity.org import DepartmentDirectory
from engine.runtime import projection
from engine.runtime.serialization import load_state
from engine.runtime.summaries import HistoryEntry, InstanceView, TaskSummary, instance_summary, task_rows
from engine.storage.db import Database
from engine.storage.models import AuditRecord, Department, HumanTask, ProcessDefinition, ProcessInstance, User


def find_instance(session: Session, ref) -> ProcessInstance:
    """An instance by id or business key (InstanceNotFound otherwise)."""
    instance = None
    # Only ASCII digits are an id ("²".isdigit() is true, int("²") fails) and only up to the largest BIGINT.
    if isinstance(ref, str) and ref.isascii() and ref.isdigit() and len(ref) <= 19:
        ref_id: int | None = int(ref)
    else:
        ref_id = ref if isinstance(ref, int) else None
    if ref_id is not None and 0 < ref_id < 2**63:
        instance = session.get(ProcessInstance, ref_id)
    if instance is None and isinstance(ref, str):
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == ref))
    if instance is None:
        raise InstanceNotFound(ref)
    return instance


class TaskLists:
    """Mixed into engine.queries.views.Queries: needs ``db`` and, for ``show``, ``workflows`` (the
    runtime, for its version cache and script engine)."""

    db: Database
    workflows: Any  # engine.runtime.service.WorkflowService

    def tasks(self, *, actor: str | None = None, department: str | None = None, status: str = "open",
              instance_id: int | None = None, limit: int = 200, offset: int = 0) -> list[TaskSummary]:
        """A page of tasks the actor may see, oldest first."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            directory = DepartmentDirectory.of(session)
            conditions: list = []
            if status == "open":
                conditions.append(HumanTask.status.in_(projection.OPEN_STATUSES))
            elif status != "all":
                if status not in projection.STATUS_LABELS:
                    raise EngineError(f"未知的任务状态「{status}」，可选：open、all、"
                                      + "、".join(projection.STATUS_LABELS))
                conditions.append(HumanTask.status == status)
            if department:
                conditions.append(HumanTask.department_id == directory.get(department).id)
            if instance_id is not None:
                conditions.append(HumanTask.instance_id == instance_id)
            visible = authz.visible_task_filter(who)
            if visible is not None:
                conditions.append(visible)
            return task_rows(session, directory, conditions, limit=limit, offset=offset)

    def show(self, ref, actor: str | None = None) -> InstanceView:
        """An instance with its current data, open tasks and history (id or business key)."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            instance = find_instance(session, ref)
            if not who.sees_all:
                mine = session.scalar(select(func.count(HumanTask.id)).where(
                    HumanTask.instance_id == instance.id, HumanTask.department_id == who.department_id))
                if not mine:
                    raise InstanceNotFound(ref)
            workflow = load_state(instance.state_json, instance.serializer_version,
                                  self.workflows.parsed_spec(instance.version), self.workflows.script_engine)
            users = dict(session.execute(select(User.username, User.display_name)).all())
            history: list[HistoryEntry] = [
                {"at": a.at.isoformat(), "actor": a.actor, "actor_name": users.get(a.actor, a.actor),
                 "action": a.action, "task_id": a.task_id, "task": a.task_name, "data": a.data}
                for a in session.scalars(select(AuditRecord).where(AuditRecord.instance_id == instance.id)
                                         .order_by(AuditRecord.id))
            ]
            data = json.loads(json.dumps(projection.current_data(workflow), default=str))
            return {**instance_summary(session, instance), "data": data, "history": history}

    def counts(self) -> dict:
        """Aggregate figures for the status page."""
        with self.db.read() as session:
            open_by_dep = session.execute(
                select(Department.name, func.count(HumanTask.id))
                .join(HumanTask, HumanTask.department_id == Department.id)
                .where(HumanTask.status.in_(projection.OPEN_STATUSES))
                .group_by(Department.name).order_by(func.count(HumanTask.id).desc())).all()
            by_status = dict(session.execute(
                select(ProcessInstance.status, func.count(ProcessInstance.id)).group_by(ProcessInstance.status)).all())
            processes = session.scalar(select(func.count(ProcessDefinition.id)))
            return {"instances": by_status, "open_tasks_by_department": [list(r) for r in open_by_dep],
                    "processes": processes}
