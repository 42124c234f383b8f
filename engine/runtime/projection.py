"""The human-task projection: one row per user task, kept in step with the instance state.

Task lists are queries on ``human_task``; nothing here deserialises other instances.
"""
from __future__ import annotations

from datetime import datetime
from typing import cast

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.deadlines.planner import Planner
from engine.errors import WorkflowFailed
from engine.identity.org import DepartmentDirectory
from engine.repository.registry import properties_of
from engine.runtime.datapath import lookup
from engine.storage.models import AuditRecord, HumanTask, ProcessInstance, User

TO_SIGN, IN_PROGRESS, COMPLETED, CANCELLED = "to_sign", "in_progress", "completed", "cancelled"
OPEN_STATUSES = (TO_SIGN, IN_PROGRESS)


def is_open(task=HumanTask):
    """``task`` is open (to sign or in progress), the statuses written literally into the statement: so SQLite (and
    PostgreSQL's generic plans) see that the partial indexes of open tasks (``OPEN_INDEX_WHERE``) hold what a list
    asks for, and read a unit's list in their order instead of sorting every open task of the unit."""
    return task.status.in_(bindparam("open_statuses", list(OPEN_STATUSES), expanding=True, literal_execute=True,
                                     unique=True))
STATUS_LABELS = {TO_SIGN: "待签收", IN_PROGRESS: "办理中", COMPLETED: "已完成", CANCELLED: "已取消"}


def ready_user_tasks(workflow: BpmnWorkflow):
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def task_department(task, directory: DepartmentDirectory):
    props = properties_of(task.task_spec)
    if "department_from" in props:
        name = lookup(task.data, props["department_from"])
    elif "department" in props:
        name = props["department"]
    else:
        name = task.task_spec.lane
    ref = directory.find(name) if isinstance(name, str) else None
    if ref is None:
        raise WorkflowFailed(
            f"任务「{task.task_spec.bpmn_name or task.task_spec.bpmn_id}」（{task.task_spec.bpmn_id}）"
            f"的承办部门「{name}」无法识别", task=task.task_spec.bpmn_id)
    return ref


def current_data(workflow: BpmnWorkflow) -> dict:
    """The data a reader of the instance cares about: the newest ready task's, else the last task's."""
    if not workflow.is_completed():
        ready = ready_user_tasks(workflow)
        if ready:
            return ready[-1].data
    last = workflow.last_task
    return last.data if last is not None else workflow.data


_INSTANCE = cast(Table, ProcessInstance.__table__)
_TASK = cast(Table, HumanTask.__table__)
_AUDIT = cast(Table, AuditRecord.__table__)


class AuditBatch:
    """Audit records of one step, written with one INSERT once the flush has given new task rows
    their ids (cheaper than one ORM object each on the hot path)."""

    def __init__(self):
        self._rows: list[tuple[HumanTask | None, dict]] = []

    def add(self, *, task: HumanTask | None = None, **values) -> None:
        self._rows.append((task, values))

    def write(self, session: Session) -> None:
        if self._rows:
            session.connection().execute(insert(_AUDIT), [
                {"instance_id": v.get("instance_id"), "task_id": task.id if task is not None else v.get("task_id"),
                 "action": v["action"], "actor": v.get("actor"), "at": v["at"], "task_name": v.get("task_name"),
                 "data": v.get("data")} for task, v in self._rows])
            self._rows.clear()


# The writes of one step on the hot path (a task completed through the API), as Core statements
# built once: the ORM unit of work costs more than the three statements themselves.
_INSTANCE_STATE_COLUMNS = ("next_timer_at", "state_json", "serializer_version", "updated_at", "item_status",
                           "lead_department_id", "status", "completed_at")
_UPDATE_INSTANCE = (update(_INSTANCE)
                    .where(_INSTANCE.c.id == bindparam("b_id"), _INSTANCE.c.revision == bindparam("b_revision"))
                    .values({c: bindparam(c, type_=_INSTANCE.c[c].type) for c in _INSTANCE_STATE_COLUMNS}
                            | {"revision": bindparam("b_revision") + 1}))
_CLOSED_TASK_COLUMNS = ("status", "completed_at", "completed_by_id", "assignee_id", "next_escalation_at")
_UPDATE_TASK = (update(_TASK).where(_TASK.c.id == bindparam("b_id"))
                .values({c: bindparam(c, type_=_TASK.c[c].type) for c in _CLOSED_TASK_COLUMNS}))
_TASK_INSERT_COLUMNS = tuple(c for c in _TASK.columns if c.key != "id")
_INSERT_TASKS = insert(_TASK).returning(_TASK.c.id, sort_by_parameter_order=True)


def write_instance_state(session: Session, instance: ProcessInstance, values: dict) -> None:
    """UPDATE the instance's state columns with its revision checked and bumped; the object then holds
    the new values as loaded ones (nothing left for the ORM to flush). Raises StaleDataError, as the ORM
    would, when another transaction changed the instance first."""
    revision = instance.revision
    result = session.connection().execute(_UPDATE_INSTANCE, {**values, "b_id": instance.id, "b_revision": revision})
    if result.rowcount != 1:
        raise StaleDataError(f"process_instance {instance.id} revision {revision} changed by another transaction")
    for key, value in values.items():
        set_committed_value(instance, key, value)
    set_committed_value(instance, "revision", revision + 1)


def _insert_values(row: HumanTask) -> dict:
    state = row.__dict__
    values = {}
    for column in _TASK_INSERT_COLUMNS:
        if column.key in state:
            values[column.key] = state[column.key]
        elif column.default is not None and column.default.is_scalar:
            values[column.key] = column.default.arg  # type: ignore[attr-defined]
        else:
            values[column.key] = None
    return values


def _closing(row: HumanTask, instance: ProcessInstance, now: datetime, actor: str | None,
             completed: HumanTask | None, completed_by_id: int | None, record) -> dict:
    """The values of a row whose task is no longer ready: completed (the one the user just finished)
    or cancelled (the engine took the token elsewhere, audited)."""
    values: dict[str, object] = {"completed_at": now, "next_escalation_at": None}
    if completed is not None and row.id == completed.id:
        values.update(status=COMPLETED, completed_by_id=completed_by_id, assignee_id=row.assignee_id or completed_by_id)
    else:
        values.update(status=CANCELLED, completed_by_id=row.completed_by_id, assignee_id=row.assignee_id)
        record(instance_id=instance.id, task_id=row.id, action="task_cancelled", actor=actor, at=now,
               task_name=row.name)
    return values


def _new_row(instance: ProcessInstance, spiff_id: str, task, directory: DepartmentDirectory, now: datetime,
             completed: HumanTask | None, completed_by_id: int | None) -> HumanTask:
    spec = task.task_spec
    props = properties_of(spec)
    dep = task_department(task, directory)
    return HumanTask(
        instance_id=instance.id, district_id=instance.district_id, spiff_task_id=spiff_id, bpmn_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id, stage=props.get("stage"),
        department_id=dep.id, roles=props.get("roles", ""),
        form=props.get("formJsonSchemaFilename"),
        status=TO_SIGN if props.get("stage") == "sign" else IN_PROGRESS,
        created_at=now,
        # Whoever signed for or handled the previous step of their department carries on with it.
        assignee_id=completed_by_id if completed is not None and completed.department_id == dep.id else None,
        kind="bpmn",
        deadline_key=f"{instance.id}:{spec.bpmn_id}:{dep.id}",
        escalation_level=0,
    )


def _handler_id(session: Session, task) -> int | None:
    """The 承办人 the department assigned the task to: the active user named at the data path of the task
    property ``assignee_from`` (none named: the task is the department's, as before)."""
    path = properties_of(task.task_spec).get("assignee_from")
    username = lookup(task.data, path) if path else None
    if not isinstance(username, str) or not username:
        return None
    return session.scalar(select(User.id).where(User.username == username, User.active.is_(True)))


def _apply(session: Session, closed: list[tuple[HumanTask, dict]], created: list[HumanTask], write: bool) -> None:
    if write:
        connection = session.connection()
        if closed:
            connection.execute(_UPDATE_TASK, [{**values, "b_id": row.id} for row, values in closed])
            for row, values in closed:
                for key, value in values.items():
                    set_committed_value(row, key, value)
        if created:
            ids = connection.execute(_INSERT_TASKS, [_insert_values(row) for row in created]).scalars().all()
            for row, new_id in zip(created, ids, strict=True):
                row.id = new_id
    else:
        for row, values in closed:
            for key, value in values.items():
                setattr(row, key, value)
        session.add_all(created)


def sync(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow,
         directory: DepartmentDirectory, now: datetime, actor: str | None,
         completed: HumanTask | None = None, completed_by_id: int | None = None,
         planner: Planner | None = None, rows: list[HumanTask] | None = None,
         audits: AuditBatch | None = None, write: bool = False) -> list[HumanTask]:
    """Bring the instance's projection rows in line with its ready user tasks.

    Rows whose task is no longer ready become completed (the one the user just finished) or
    cancelled (the engine took the token elsewhere). ``rows`` are the instance's task rows when the
    caller has loaded them already. Audit records go to ``audits`` when given (the caller writes
    them after its flush), else into the session. Returns all the instance's task rows, the new ones
    included (they get their ids at the caller's next flush, or at once with ``write=True``).

    ``write=True`` writes the changes at once with Core statements instead of leaving them to the
    ORM: closed rows are updated and hold the new values as loaded ones, new rows are inserted and get
    their ids but stay outside the session (read them, do not change them).
    """
    record = audits.add if audits is not None else (lambda **values: session.add(AuditRecord(**values)))
    if rows is None:
        rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                    .order_by(HumanTask.id)))
    else:
        rows = sorted(rows, key=lambda r: r.id)
    open_rows = {row.spiff_task_id: row for row in rows if row.kind == "bpmn" and row.status in OPEN_STATUSES}
    latest_by_key = {row.deadline_key: row for row in rows if row.deadline_key}
    ready = {str(t.id): t for t in ready_user_tasks(workflow)}
    closed: list[tuple[HumanTask, dict]] = []
    for spiff_id, row in open_rows.items():
        if spiff_id not in ready:
            closed.append((row, _closing(row, instance, now, actor, completed, completed_by_id, record)))
    created: list[HumanTask] = []
    for spiff_id, task in ready.items():
        if spiff_id in open_rows:
            continue
        row = _new_row(instance, spiff_id, task, directory, now, completed, completed_by_id)
        row.handler_id = _handler_id(session, task)
        if planner is not None:
            deadline = planner.deadline(properties_of(task.task_spec), task.data, now, row.name)
            planner.apply(row, deadline, latest_by_key.get(row.deadline_key) if deadline is not None else None)
        record(instance_id=instance.id, task=row, action="task_created", actor=actor, at=now,
               task_name=row.name, data={"department": directory.name_of(row.department_id)})
        created.append(row)
    _apply(session, closed, created, write)
    rows.extend(created)
    return rows
