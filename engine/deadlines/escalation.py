"""The escalation ladder (engine.deadlines.ladder: 1 预警 → 2 催办 → 3 督办), fired by the scheduler.

Due work is found with the indexed ``human_task.next_escalation_at`` and claimed with a row lock
(SKIP LOCKED on PostgreSQL; SQLite's writers are serialised). The unique constraint on
``escalation(deadline_key, due_at, level)`` makes a second firing impossible even if two
schedulers raced past the lock. Each firing, its notifications (to the level's audience, with the
level's template), its audit record and, for the level that opens one, the supervision item commit
in one transaction. A paused task (挂起, engine.deadlines.pauses) has no next moment, so the ladder never
loads it; its ladder is planned again when it is resumed or its pause reaches its limit.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.deadlines import ladder
from engine.deadlines.ladder import Level, next_moment
from engine.deadlines.pauses import open_pauses
from engine.deadlines.planner import Planner
from engine.identity.org import DISPATCHER_DEPARTMENT
from engine.runtime.projection import IN_PROGRESS, OPEN_STATUSES
from engine.storage.models import AuditRecord, Department, Escalation, HumanTask, User, UserRole
from notifications.outbox import Notice, Notifier


class EscalationService:
    def __init__(self, db, notifier: Notifier, planner_factory: Callable[[Session], Planner],
                 clock: Callable[[], datetime], tz: ZoneInfo, base_url: str):
        self.db = db
        self.notifier = notifier
        self.planner_factory = planner_factory
        self.clock = clock
        self.tz = tz
        self.base_url = base_url.rstrip("/")

    @staticmethod
    def due_probe(now: datetime):
        """A query with a row when some escalation is due (the scheduler asks them all at once)."""
        return select(HumanTask.id).where(HumanTask.next_escalation_at <= now)

    @staticmethod
    def next_due():
        """The moment the next escalation falls due (the scheduler wakes then): its index's first entry."""
        return select(func.min(HumanTask.next_escalation_at))

    def fire_due(self, limit: int = 20) -> int:
        """Fire the levels that have fallen due for up to ``limit`` tasks; returns firings made."""
        now = self.clock()
        with self.db.read() as session:  # the common case, nothing due, takes no write lock
            if session.scalar(select(HumanTask.id).where(HumanTask.next_escalation_at <= now).limit(1)) is None:
                return 0
        with self.db.write() as session:
            tasks = list(session.scalars(
                select(HumanTask)
                .where(HumanTask.next_escalation_at <= now, HumanTask.status.in_(OPEN_STATUSES))
                .order_by(HumanTask.next_escalation_at).limit(limit)
                .with_for_update(skip_locked=True)))
            if not tasks:
                return 0
            # A paused task's ladder is stopped (its next_escalation_at cleared when it was paused); one
            # paused while this batch was being read is left as the pause left it.
            stopped = {p.task_id for p in open_pauses(session, [t.id for t in tasks]).values() if p.over_limit_at is None}
            for task in tasks:
                if task.id in stopped:
                    task.next_escalation_at = None
            planner = self.planner_factory(session)
            return sum(self._advance(session, planner, task, now) for task in tasks if task.id not in stopped)

    def _advance(self, session: Session, planner: Planner, task: HumanTask, now: datetime) -> int:
        steps = ladder.current()
        moments = planner.moments(task)
        fired = 0
        for number, moment in sorted(moments.items()):
            level = steps.level(number)
            if number <= task.escalation_level or moment > now or level is None:
                continue
            if level.moment.stale_after_deadline and (task.due_at is None or task.due_at <= now):
                continue  # a warning after the deadline says nothing: the next level goes instead
            fired += self._fire(session, planner, task, level, moment, now)
            task.escalation_level = number
        task.next_escalation_at = next_moment(moments, task.escalation_level)
        return fired

    def _fire(self, session: Session, planner: Planner, task: HumanTask, level: Level, moment: datetime,
              now: datetime) -> int:
        record = Escalation(task_id=task.id, instance_id=task.instance_id, department_id=task.department_id,
                            deadline_key=task.deadline_key or f"task:{task.id}", due_at=task.due_at,
                            level=level.number, scheduled_at=moment, fired_at=now, recipients=[])
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except IntegrityError:
            return 0  # already fired for this deadline (another scheduler, or a re-created task)
        department = session.get(Department, task.department_id)
        users = list({u.id: u for u in self._audience(session, task, level.audience)}.values())
        instance = task.instance
        link = f"{self.base_url}/tasks/{task.id}"
        # The office acts on the supervision item, the department on its late task: each is sent where it acts.
        office: set[int] = set()
        if level.opens_supervision:
            record.supervision_task_id = self._open_supervision(session, task, level, department, now).id
            office = {u.id for u in self._audience(session, task, ("office",))}
        calendar = planner.calendar
        due_day = task.due_at.astimezone(self.tz).date()
        today = now.astimezone(self.tz).date()
        context = {
            "title": instance.title or instance.business_key, "business_key": instance.business_key,
            "task_name": task.name, "department": department.name,
            "due_local": f"{due_day:%Y年%m月%d日}",
            "days_left": max(calendar.working_days_between(today, due_day), 0),
            "overdue_days": max(calendar.working_days_between(due_day, today), 0),
        }
        notice = Notice(key=f"esc:{record.id}", template=level.template, context=context, link=link,
                        data={"level": level.number, "level_label": level.label, "task_id": task.id,
                              "business_key": instance.business_key, "department": department.name,
                              "due_at": task.due_at.isoformat()})
        record.recipients = self.notifier.notify(session, notice, [u for u in users if u.id not in office],
                                                 task.department_id, now)
        if office:
            item = replace(notice, key=f"esc:{record.id}:item",
                           link=f"{self.base_url}/tasks/{record.supervision_task_id}")
            record.recipients += self.notifier.notify(session, item, [u for u in users if u.id in office],
                                                      task.department_id, now, only=lambda c: c.personal)
        session.add(AuditRecord(instance_id=task.instance_id, task_id=task.id, action=f"escalation_{level.number}",
                                actor="system", at=now, task_name=task.name,
                                data={"level": level.number, "label": level.label, "department": department.name,
                                      "due_at": task.due_at.isoformat(), "recipients": record.recipients}))
        return 1

    @staticmethod
    def _audience(session: Session, task: HumanTask, groups: tuple[str, ...]) -> list[User]:
        """The people of a level's audience (engine.deadlines.ladder.AUDIENCES), group by group: who
        handles the task (its department's users holding one of its roles, and its assignee), the
        department's heads, the leading-group office."""
        roles = [r.strip() for r in (task.roles or "").split(",") if r.strip()]
        # Heads may act on their department's tasks, but they hear of them as "heads", as copies.
        roles = [r for r in roles if r != "department_head"] or roles
        # A department's 承办人 hear of the tasks assigned to them, not of all its tasks.
        roles = [r for r in roles if r != "handler"] or roles

        def users(*conditions) -> list[User]:
            return list(session.scalars(select(User).join(UserRole).where(User.active.is_(True), *conditions)
                                        .order_by(User.id)).unique())

        people: list[User] = []
        for group in groups:
            if group == "handlers":
                handlers = users(User.department_id == task.department_id, UserRole.role.in_(roles)) if roles else []
                for named in (task.assignee, task.handler):
                    if named is not None and named.active and named.id not in {u.id for u in handlers}:
                        handlers.append(named)
                people += handlers
            elif group == "heads":
                people += users(User.department_id == task.department_id, UserRole.role == "department_head")
            elif group == "office":
                people += users(UserRole.role == "leading_group_office")
        return people

    @staticmethod
    def _open_supervision(session: Session, task: HumanTask, level: Level, department: Department,
                          now: datetime) -> HumanTask:
        office_department = session.scalar(select(Department).where(Department.name == DISPATCHER_DEPARTMENT))
        item = HumanTask(
            instance_id=task.instance_id, kind="supervision", spiff_task_id=None, bpmn_id=task.bpmn_id,
            name=f"{level.label}：{department.name}「{task.name}」逾期", stage="supervise",
            department_id=office_department.id, roles="leading_group_office", form="supervision.schema.json",
            status=IN_PROGRESS, created_at=now, related_task_id=task.id, escalation_level=0,
            deadline_confirmed=True)
        session.add(item)
        session.flush()
        session.add(AuditRecord(instance_id=task.instance_id, task_id=item.id, action="task_created",
                                actor="system", at=now, task_name=item.name,
                                data={"department": office_department.name, "supervises": task.id}))
        return item
