"""Who is told of a pause of a task's clock (挂起), of its resumption and of a pause over its limit, and what
they are told (notifications/templates/task_paused.txt, task_resumed.txt, pause_over_limit.txt), written
through the outbox in the command's transaction.

The dispatcher (the users holding the dispatcher role) hears of every pause and resumption, and so do
the users the task's procedure names (engine.runtime.extensions ``watchers``: for a dispatched problem,
the enterprise's service officer, who can press the enterprise for what it owes). A pause that reaches its
limit is told to them and to the department: who may act on the task, its heads and who paused it.
The actor is never told of their own act.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.runtime.notices import HEAD, holders, matter_of
from engine.storage.models import Department, HumanTask, ProcessInstance, TaskPause, User, UserRole
from notifications.outbox import Notice, Notifier

DISPATCHER = "dispatcher"


def _active(session: Session, *conditions) -> list[User]:
    return list(session.scalars(select(User).join(UserRole).where(User.active.is_(True), *conditions)
                                .order_by(User.id)).unique())


def _distinct(users: Iterable[User | None], but: int | None) -> list[User]:
    return [u for u in {u.id: u for u in users if u is not None and u.active}.values() if u.id != but]


class PauseNotices:
    def __init__(self, notifier: Notifier, tz: ZoneInfo, base_url: str, extensions):
        self.notifier = notifier
        self.tz = tz
        self.base_url = base_url.rstrip("/")
        self.extensions = extensions

    def _local(self, moment: datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if moment is not None else "未设期限"

    def _name(self, session: Session, username: str | None) -> str:
        user = session.scalar(select(User).where(User.username == username)) if username else None
        return user.display_name if user is not None else "系统"

    def _context(self, session: Session, task: HumanTask, pause: TaskPause) -> dict:
        instance: ProcessInstance = task.instance
        return {"matter": matter_of(instance), "business_key": instance.business_key, "task_name": task.name,
                "department": session.get(Department, task.department_id).name, "reason": pause.reason,
                "since": self._local(pause.paused_at), "limit_days": pause.limit_days,
                "by": self._name(session, pause.paused_by)}

    def _watchers(self, session: Session, task: HumanTask, data: dict) -> list[User]:
        key = task.instance.version.definition.key
        return list(self.extensions.watchers(session, key, task.instance, data))

    def _send(self, session: Session, notice: Notice, task: HumanTask, data: dict, actor_id: int | None,
              now: datetime, department: bool = False, also: Iterable[User] = ()) -> None:
        """The notice to the dispatchers (and ``also``), and, saying so, to the procedure's watchers."""
        watchers = _distinct(self._watchers(session, task, data), actor_id)
        seen = {u.id for u in watchers}
        central = [u for u in _distinct([*_active(session, UserRole.role == DISPATCHER), *also], actor_id)
                   if u.id not in seen]
        endpoint = task.department_id if department else None
        self.notifier.notify(session, notice, central, endpoint, now)
        if watchers:
            told = replace(notice, context={**notice.context, "officer": True})
            self.notifier.notify(session, told, watchers, None, now, only=lambda c: c.personal)

    def _notice(self, key: str, template: str, context: dict, task: HumanTask, event: str) -> Notice:
        return Notice(key=key, template=template, context={"officer": False, **context},
                      link=f"{self.base_url}/tasks/{task.id}",
                      data={"event": event, "task_id": task.id, "business_key": context["business_key"],
                            "step": task.name, "department": context["department"],
                            "due_at": task.due_at.isoformat() if task.due_at else None})

    def paused(self, session: Session, task: HumanTask, pause: TaskPause, data: dict, who, number: int,
               max_times: int, now: datetime) -> None:
        context = {**self._context(session, task, pause), "due_local": self._local(task.due_at),
                   "expected": pause.expected_resume_on.isoformat() if pause.expected_resume_on else "",
                   "number": number, "max_times": max_times}
        notice = self._notice(f"pause:{pause.id}", "task_paused", context, task, "task_paused")
        self._send(session, notice, task, data, who.user_id, now)

    def resumed(self, session: Session, task: HumanTask, pause: TaskPause, data: dict, who,
                before: datetime | None, now: datetime, department: bool = False) -> None:
        """Told as a pause is: and the unit itself when someone else ended its pause (``department``)."""
        context = {**self._context(session, task, pause), "by": self._name(session, who.username),
                   "at": self._local(now), "working_days": pause.working_days or 0,
                   "credited_days": 0 if pause.over_limit_at else (pause.credited_days or 0),
                   "due_before": self._local(before), "due_after": self._local(task.due_at),
                   "note": pause.resume_note or "", "ended_for": department}
        notice = self._notice(f"resume:{pause.id}", "task_resumed", context, task, "task_resumed")
        if not department:
            self._send(session, notice, task, data, who.user_id, now)
            return
        pauser = session.scalar(select(User).where(User.username == pause.paused_by))
        self._send(session, notice, task, data, who.user_id, now, department=True,
                   also=[*holders(session, task), *([pauser] if pauser else [])])

    def over_limit(self, session: Session, task: HumanTask, pause: TaskPause, data: dict, now: datetime) -> None:
        context = {**self._context(session, task, pause), "due_after": self._local(task.due_at)}
        notice = self._notice(f"pause-limit:{pause.id}", "pause_over_limit", context, task, "pause_over_limit")
        pauser = session.scalar(select(User).where(User.username == pause.paused_by))
        department = [*holders(session, task), pauser,
                      *_active(session, User.department_id == task.department_id, UserRole.role == HEAD)]
        self._send(session, notice, task, data, None, now, department=True, also=department)
