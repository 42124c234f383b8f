"""Task lists and instance views from the projection tables (never deserialising instances, except
``show``, which reads one instance's current data)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine.deadlines import ladder
from engine.deadlines.calendar_store import calendar_of
from engine.deadlines.pauses import clock_stopped, open_pauses
from engine.errors import EngineError, InstanceNotFound
from engine.identity import authz
from engine.identity.org import GLOBAL_ROLES, DepartmentDirectory
from engine.runtime import projection
from engine.runtime.projection import COMPLETED, IN_PROGRESS, OPEN_STATUSES, STATUS_LABELS, TO_SIGN
from engine.runtime.serialization import load_state
from engine.runtime.summaries import HistoryEntry, InstanceView, TaskSummary, instance_summary, task_rows
from engine.storage.db import Database
from engine.storage.models import AuditRecord, Department, HumanTask, ProcessDefinition, ProcessInstance, User
from engine.storage.sql import position_in

# Tab badges count up to this many (then show "99+"), so an inbox page costs the same with 100 or
# 100,000 open tasks; the list itself is paged with one extra row to know whether a next page exists.
COUNT_CAP = 99
# 全部待办 (the default): every step waiting for the user, the most urgent first (overdue, then by
# deadline), so a liaison whose only work is a 签收 sees it on opening. 已办: steps the user completed;
# 已办结: items closed, one row each.
TABS = {"all": "全部待办", "to_sign": "待签收", "in_progress": "办理中", "due_soon": "即将到期", "overdue": "已逾期",
        "completed": "已办", "closed": "已办结"}
DEFAULT_TAB = "all"
DUE_SOON_WORKING_DAYS = 2
# Open steps that decide on a department's request, with the state the requesting department reads
# meanwhile: its completed step stays in 办理中 until the decision sends the work back to it.
AWAITING_DECISION = {"decide_extension": "延期审批中", "decide_extension_office": "延期审批中"}
INSTANCE_CLOSED = "completed"


@dataclass
class InboxFilter:
    tab: str = DEFAULT_TAB
    enterprise: str | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    per_page: int = 20


def days_left_label(days: int | None, overdue: bool = False) -> str:
    """「剩余 3 个工作日」, 「今天到期」 or 「已逾期 2 个工作日」 for working days left (negative: overdue)."""
    if days is None:
        return ""
    if days < 0:
        return f"已逾期 {-days} 个工作日"
    if overdue:
        return "已逾期"
    return "今天到期" if days == 0 else f"剩余 {days} 个工作日"


def _paused(item: dict, pause) -> dict:
    """An inbox row of a task paused now (挂起): badged, and while its clock is stopped not overdue."""
    if pause is None or item["status"] not in OPEN_STATUSES:
        return {**item, "paused": False, "pause_over_limit": False}
    if pause.over_limit_at is not None:  # past the limit: the clock runs again
        return {**item, "paused": True, "pause_over_limit": True}
    return {**item, "paused": True, "pause_over_limit": False, "overdue": False, "days_left_label": "已挂起，暂停计时"}


def actionable(actor: authz.Actor, task=HumanTask):
    """Tasks the actor may act on: their department's for department roles, any for central roles."""
    if actor.is_admin:
        return None
    local = [r for r in actor.roles if r not in GLOBAL_ROLES]
    central = [r for r in actor.roles if r in GLOBAL_ROLES]
    clauses = []
    if local:
        clauses.append(and_(task.department_id == actor.department_id,
                            or_(*[position_in(task.roles, r) > 0 for r in local])))
    if central:
        clauses.append(or_(*[position_in(task.roles, r) > 0 for r in central]))
    return or_(*clauses) if clauses else task.id < 0


# Made once (an alias per call costs more than the inbox's own statements): the deciding step, and the actor's steps.
_DECISION, _MINE = aliased(HumanTask, name="decision"), aliased(HumanTask, name="mine")


def _awaiting_decision():
    """A completed step whose request an open deciding step (AWAITING_DECISION) is deciding on: the
    deciding step was opened by completing it, in the same transaction (same instant)."""
    decision = _DECISION
    return and_(HumanTask.status == COMPLETED, exists().where(
        decision.instance_id == HumanTask.instance_id, decision.status.in_(OPEN_STATUSES),
        decision.bpmn_id.in_(list(AWAITING_DECISION)), decision.created_at == HumanTask.completed_at))


def _closed_items(actor: authz.Actor):
    """The actor's latest step of each closed item."""
    mine = _MINE
    latest = (select(func.max(mine.id)).join(ProcessInstance, mine.instance_id == ProcessInstance.id)
              .where(mine.status == COMPLETED, ProcessInstance.status == INSTANCE_CLOSED,
                     *[c for c in [actionable(actor, mine)] if c is not None])
              .group_by(mine.instance_id))
    return HumanTask.id.in_(latest)


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


def _working_days_left(calendar, tz: ZoneInfo, today: date, due_at: datetime | None) -> int | None:
    if due_at is None:
        return None
    return calendar.working_days_between(today, due_at.astimezone(tz).date())


class TaskLists:
    """Mixed into engine.queries.views.Queries: needs ``db`` and, for ``show``, ``workflows`` (the
    runtime, for its version cache and script engine)."""

    db: Database
    workflows: Any  # engine.runtime.service.WorkflowService
    tz: ZoneInfo
    clock: Any

    def inbox(self, actor: authz.Actor, f: InboxFilter) -> dict:
        """One page of one inbox tab, with every tab's (capped) count."""
        now = self.clock()
        with self.db.read() as session:
            calendar = calendar_of(session)
            today = now.astimezone(self.tz).date()
            base = [c for c in [actionable(actor)] if c is not None]
            tabs = self._tab_conditions(actor, calendar, today, now)
            filters = self._inbox_filters(f)

            by_instance = bool(f.enterprise or f.category)  # filters on the item, else counted from the tasks alone

            def bounded(conditions):  # a tab's count, stopped after COUNT_CAP + 1 rows
                rows = select(HumanTask.id)
                if by_instance:
                    rows = rows.join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
                rows = rows.where(*base, *conditions, *filters).limit(COUNT_CAP + 1).subquery()
                return select(func.count()).select_from(rows).scalar_subquery()

            row = session.execute(select(*[bounded(c) for c in tabs.values()])).one()
            counts = {tab: int(value) for tab, value in zip(tabs, row, strict=True)}
            tab = f.tab if f.tab in TABS else DEFAULT_TAB
            rows = self._inbox_page(session, tab, [*base, *filters], self._tab_parts(tab, tabs), f)
            has_next = len(rows) > f.per_page
            paused = open_pauses(session, [row[0].id for row in rows[:f.per_page]])
            items = [_paused(self._inbox_item(row, calendar, today, now, tab), paused.get(row[0].id))
                     for row in rows[:f.per_page]]
            labels = {t: (f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)) for t, n in counts.items()}
            return {"tab": tab, "counts": counts, "count_labels": labels, "count_cap": COUNT_CAP, "items": items,
                    "page": max(f.page, 1), "per_page": f.per_page, "total": counts[tab],
                    "total_label": labels[tab], "has_next": has_next}

    @staticmethod
    def _tab_parts(tab: str, tabs: dict[str, list]) -> list[list]:
        """The tab's rows as parts that each follow an index in the page's order: a tab of open tasks and of steps
        awaiting a decision reads the two apart (an OR of them would sort every open task of the unit)."""
        if tab == "all":
            return [[projection.is_open()], [_awaiting_decision()]]
        if tab == "in_progress":
            return [[HumanTask.status == IN_PROGRESS], [_awaiting_decision()]]
        return [tabs[tab]]

    @staticmethod
    def _inbox_page(session: Session, tab: str, common: list, parts: list[list], f: InboxFilter) -> list:
        """The page's rows (and one more, to tell whether a next page exists), each part read in index order as
        far as the page reaches, the parts merged."""
        # The orders follow an index (department, [status,] due_at | completed_at, id) to the page.
        order = {"completed": (HumanTask.completed_at.desc(), HumanTask.id.desc()),
                 "closed": (ProcessInstance.completed_at.desc(), HumanTask.id.desc())}.get(
            tab, (HumanTask.due_at.asc().nulls_last(), HumanTask.id))
        skip = (max(f.page, 1) - 1) * f.per_page
        query = (select(HumanTask, ProcessInstance.business_key, ProcessInstance.title, ProcessInstance.subject,
                        ProcessInstance.category, Department.name)
                 .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
                 .join(Department, HumanTask.department_id == Department.id).order_by(*order))
        if len(parts) == 1:
            return list(session.execute(query.where(*common, *parts[0]).limit(f.per_page + 1).offset(skip)))
        rows = [r for part in parts for r in session.execute(query.where(*common, *part).limit(skip + f.per_page + 1))]
        rows.sort(key=lambda r: (r[0].due_at is None, r[0].due_at or datetime.min, r[0].id))  # as ``order``
        return rows[skip:skip + f.per_page + 1]

    def _tab_conditions(self, actor: authz.Actor, calendar, today: date, now: datetime) -> dict[str, list]:
        soon = calendar.end_of_day(calendar.add_working_days(today, DUE_SOON_WORKING_DAYS), self.tz)
        waiting = _awaiting_decision()
        done = [HumanTask.status == COMPLETED]
        if actor.user_id is not None:
            done.append(HumanTask.completed_by_id == actor.user_id)
        return {
            "all": [or_(HumanTask.status.in_(OPEN_STATUSES), waiting)],
            "to_sign": [HumanTask.status == TO_SIGN],
            "in_progress": [or_(HumanTask.status == IN_PROGRESS, waiting)],
            # A task whose clock is paused (挂起) is neither due soon nor overdue while it is.
            "due_soon": [projection.is_open(), HumanTask.due_at >= now, HumanTask.due_at <= soon,
                         ~clock_stopped(HumanTask.id)],
            "overdue": [projection.is_open(), HumanTask.due_at < now, ~clock_stopped(HumanTask.id)],
            "completed": done,
            "closed": [_closed_items(actor)],
        }

    def _inbox_item(self, row, calendar, today: date, now: datetime, tab: str) -> dict:
        task, key, title, subject, category, department = row
        is_open = task.status in OPEN_STATUSES
        overdue = task.due_at is not None and task.due_at < now and is_open
        days = _working_days_left(calendar, self.tz, today, task.due_at) if is_open else None
        if tab == "closed":
            state = "已办结"
        elif task.status == COMPLETED and tab in ("all", "in_progress"):
            state = next(iter(AWAITING_DECISION.values()))  # the only kind of completed row these tabs hold
        else:
            state = STATUS_LABELS[task.status]
        return {
            "id": task.id, "instance_id": task.instance_id, "business_key": key, "title": title,
            "enterprise": subject, "category": category, "name": task.name, "department": department,
            "status": task.status, "status_label": state, "stage": task.stage, "waiting": not is_open,
            "created_at": task.created_at, "due_at": task.due_at, "completed_at": task.completed_at,
            "due_local": task.due_at.astimezone(self.tz) if task.due_at else None,
            "completed_local": task.completed_at.astimezone(self.tz) if task.completed_at else None,
            "working_days_left": days, "days_left_label": days_left_label(days, overdue), "overdue": overdue,
            "escalation_level": task.escalation_level if is_open else 0,
            "escalation_label": ladder.current().label(task.escalation_level) if is_open else None,
            "deadline_confirmed": task.deadline_confirmed,
        }

    def _inbox_filters(self, f: InboxFilter) -> list:
        filters = []
        if f.enterprise:
            filters.append(ProcessInstance.subject.contains(f.enterprise.strip()))
        if f.category:
            filters.append(ProcessInstance.category == f.category)
        if f.date_from:
            filters.append(HumanTask.created_at >= datetime.combine(f.date_from, time(0), self.tz))
        if f.date_to:
            filters.append(HumanTask.created_at < datetime.combine(f.date_to + timedelta(days=1), time(0), self.tz))
        return filters

    def tasks(self, *, actor: str | None = None, department: str | None = None, status: str = "open",
              instance_id: int | None = None, limit: int = 200, offset: int = 0) -> list[TaskSummary]:
        """A page of tasks the actor may see, oldest first."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            directory = DepartmentDirectory.of(session)
            conditions: list = []
            if status == "open":
                conditions.append(projection.is_open())  # the unit's open tasks in index order
            elif status != "all":
                if status not in projection.STATUS_LABELS:
                    raise EngineError(f"未知的任务状态「{status}」，可选：open、all、"
                                      + "、".join(projection.STATUS_LABELS))
                conditions.append(HumanTask.status == status)
            asked = directory.get(department).id if department else None
            if asked is not None:
                conditions.append(HumanTask.department_id == asked)
            if instance_id is not None:
                conditions.append(HumanTask.instance_id == instance_id)
            visible = authz.visible_task_filter(who)
            if visible is not None and asked != who.department_id:  # (the same unit asked twice misleads the planner)
                conditions.append(visible)
            return task_rows(session, directory, conditions, limit=limit, offset=offset)

    def show(self, ref, actor: str | None = None) -> InstanceView:
        """An instance with its current data, open tasks and history (id or business key)."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            instance = find_instance(session, ref)
            if not authz.may_see_item(session, who, instance.id):
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
