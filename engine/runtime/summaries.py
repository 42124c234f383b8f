"""The shapes the service layer returns for tasks and instances (the README's ``--json`` outputs),
built from projection rows in hand or with one joined query (no per-row lazy loads)."""
from __future__ import annotations

from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from engine.identity import authz
from engine.identity.org import DepartmentDirectory
from engine.runtime import projection
from engine.storage.models import HumanTask, ProcessDefinition, ProcessInstance, ProcessVersion, User


class TaskSummary(TypedDict):
    id: int
    instance_id: int
    business_key: str
    title: str
    process: str
    task: str
    name: str
    stage: str | None
    department: str | None
    roles: list[str]
    status: str
    status_label: str
    form: str | None
    created_at: str
    due_at: str | None
    deadline_confirmed: bool | None
    escalation_level: int | None
    next_escalation_at: str | None
    completed_at: str | None
    assignee: str | None
    completed_by: str | None


class InstanceSummary(TypedDict):
    id: int
    business_key: str
    title: str
    process: str
    version: int
    status: str
    item_status: str | None
    started_at: str
    started_by: str | None
    completed_at: str | None
    open_tasks: list[TaskSummary]


class HistoryEntry(TypedDict):
    at: str
    actor: str | None
    actor_name: str | None
    action: str
    task_id: int | None
    task: str | None
    data: dict | None


class InstanceView(InstanceSummary):
    """``zjtx show --json``: the instance with its current data and its history."""
    data: dict
    history: list[HistoryEntry]


class CompletionResult(TypedDict):
    """``zjtx complete --json``."""
    task: TaskSummary
    instance: InstanceSummary


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def task_dict(task: HumanTask, key: str, title: str, process: str, assignee_name: str | None,
              completer_name: str | None, directory: DepartmentDirectory) -> TaskSummary:
    return {
        "id": task.id, "instance_id": task.instance_id, "business_key": key, "title": title, "process": process,
        "task": task.bpmn_id, "name": task.name, "stage": task.stage,
        "department": directory.name_of(task.department_id), "roles": sorted(authz.task_roles(task)),
        "status": task.status, "status_label": projection.STATUS_LABELS[task.status], "form": task.form,
        "created_at": task.created_at.isoformat(), "due_at": _iso(task.due_at),
        "deadline_confirmed": task.deadline_confirmed if task.due_at else None,
        "escalation_level": task.escalation_level, "next_escalation_at": _iso(task.next_escalation_at),
        "completed_at": _iso(task.completed_at), "assignee": assignee_name, "completed_by": completer_name,
    }


# Made once: an alias built per call costs more than a small query (a proxy for each of the table's columns), and
# every submit's answer lists the instance's open tasks through here.
_ASSIGNEE, _COMPLETER = aliased(User, name="assignee"), aliased(User, name="completer")


def task_rows(session: Session, directory: DepartmentDirectory, conditions: list,
              limit: int | None = None, offset: int = 0) -> list[TaskSummary]:
    """One joined query for a page of tasks."""
    assignee, completer = _ASSIGNEE, _COMPLETER
    query = (
        select(HumanTask, ProcessInstance.business_key, ProcessInstance.title, ProcessDefinition.key,
               assignee.username, completer.username)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .join(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
        .join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
        .outerjoin(assignee, HumanTask.assignee_id == assignee.id)
        .outerjoin(completer, HumanTask.completed_by_id == completer.id)
        .where(*conditions)
        .order_by(HumanTask.created_at, HumanTask.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [task_dict(task, key, title, process, assignee_name, completer_name, directory)
            for task, key, title, process, assignee_name, completer_name in session.execute(query)]


def instance_summary(session: Session, instance: ProcessInstance, process: str | None = None,
                     open_tasks: list[TaskSummary] | None = None) -> InstanceSummary:
    if open_tasks is None:
        open_tasks = task_rows(session, DepartmentDirectory.of(session), [
            HumanTask.instance_id == instance.id, HumanTask.status.in_(projection.OPEN_STATUSES)])
    return {
        "id": instance.id, "business_key": instance.business_key, "title": instance.title,
        "process": process or instance.version.definition.key, "version": instance.version.version,
        "status": instance.status, "item_status": instance.item_status,
        "started_at": instance.started_at.isoformat(), "started_by": instance.started_by,
        "completed_at": _iso(instance.completed_at), "open_tasks": open_tasks,
    }


def _names(session: Session, who: authz.Actor, ids: set) -> dict:
    names = {who.user_id: who.username} if who.user_id is not None else {}
    missing = {i for i in ids if i is not None and i not in names}
    if missing:
        names.update(session.execute(select(User.id, User.username).where(User.id.in_(missing))).all())
    return names


def _by_created(tasks) -> list[TaskSummary]:
    return sorted(tasks, key=lambda d: (d["created_at"], d["id"]))


def from_rows(session: Session, instance: ProcessInstance, rows: list[HumanTask], who: authz.Actor,
              process: str) -> InstanceSummary:
    """The instance with its open tasks, from the rows a step wrote."""
    directory = DepartmentDirectory.of(session)
    shown = [r for r in rows if r.status in projection.OPEN_STATUSES]
    names = _names(session, who, {r.assignee_id for r in shown})
    open_tasks = _by_created(task_dict(r, instance.business_key, instance.title, process, names.get(r.assignee_id),
                                       None, directory) for r in shown)
    return instance_summary(session, instance, process, open_tasks)


def completion_result(session: Session, instance: ProcessInstance, task: HumanTask, who: authz.Actor,
                      process: str, rows: list[HumanTask] | None = None) -> CompletionResult:
    """The completed task and the instance with its open tasks, built from the rows in hand."""
    directory = DepartmentDirectory.of(session)
    if rows is None:
        rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                    .order_by(HumanTask.id)))
    shown = [r for r in rows if r.id == task.id or r.status in projection.OPEN_STATUSES]
    names = _names(session, who, {i for r in shown for i in (r.assignee_id, r.completed_by_id)})
    dicts = {r.id: task_dict(r, instance.business_key, instance.title, process, names.get(r.assignee_id),
                             names.get(r.completed_by_id), directory) for r in shown}
    open_tasks = _by_created(d for d in dicts.values() if d["status"] in projection.OPEN_STATUSES)
    return {"task": dicts[task.id], "instance": instance_summary(session, instance, process, open_tasks)}
