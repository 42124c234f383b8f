"""The shapes the service layer returns for tasks and instances (the README's ``--json`` outputs),
built from projection rows in hand or with one joined query (no per-row lazy loads)."""
from __future__ import annotations

import weakref
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

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


# A version's process key never changes: database engine → {version id: key}, filled as versions are met.
_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _process_keys(session: Session, version_ids: set[int]) -> dict[int, str]:
    known = _KEYS.setdefault(session.get_bind().engine, {})
    missing = version_ids - known.keys()
    if missing:
        known.update(session.execute(select(ProcessVersion.id, ProcessDefinition.key).join(ProcessDefinition)
                                     .where(ProcessVersion.id.in_(sorted(missing)))).all())
    return known


def task_rows(session: Session, directory: DepartmentDirectory, conditions: list,
              limit: int | None = None, offset: int = 0) -> list[TaskSummary]:
    """A page of tasks: one query of the tasks and their items, in the list's index order. The process key comes
    from versions already known and the user names (of the few tasks assigned or completed) from a second small
    query: joined into the first, the versions, definitions and users (each filtered by district) made the planner
    think a unit's 5,000 open tasks were 89 and sort them all."""
    query = (
        select(HumanTask, ProcessInstance.business_key, ProcessInstance.title, ProcessInstance.version_id)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .where(*conditions)
        .order_by(HumanTask.created_at, HumanTask.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    keys = _process_keys(session, {version for *_, version in rows})
    people = {i for task, *_ in rows for i in (task.assignee_id, task.completed_by_id) if i is not None}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(sorted(people)))).all()) \
        if people else {}
    return [task_dict(task, key, title, keys.get(version, ""), names.get(task.assignee_id),
                      names.get(task.completed_by_id), directory)
            for task, key, title, version in rows]


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
