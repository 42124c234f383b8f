"""Deadlines of user tasks and the moments of their escalation ladder.

A task's deadline comes from its BPMN properties (designers change it by editing the diagram):

- ``due_date_from``: a data path holding an ISO date (a dispatch's per-department deadline, moved
  by an approved extension) — due at the end of that day;
- ``due_working_days`` or ``due_working_days_from`` (a data path): N working days counted from
  the day after the task is created (次日起算), due at the end of that day;
- ``due_natural_days``: N natural days, likewise.

``warn_before_working_days`` and ``supervise_after_working_days`` set the ladder's per-task
parameters (else the settings' defaults); the levels and their moment rules are in
:mod:`engine.deadlines.ladder`. All moments are Asia/Shanghai days stored as UTC.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.deadlines import ladder
from engine.deadlines.workcalendar import WorkCalendar
from engine.errors import WorkflowFailed
from engine.runtime.datapath import lookup


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    confirmed: bool
    warn_before: int
    supervise_after: int


def _int(value, what: str, task_name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise WorkflowFailed(f"任务「{task_name}」的期限设置 {what}={value!r} 不是整数") from None
    if number < 0:
        raise WorkflowFailed(f"任务「{task_name}」的期限设置 {what}={value!r} 不能为负数")
    return number


def task_deadline(props: dict, data: dict, created_at: datetime, calendar: WorkCalendar, tz: ZoneInfo,
                  default_warn: int, default_supervise: int, task_name: str = "") -> Deadline | None:
    """The deadline a new task gets, or None when its diagram sets none."""
    created_day = created_at.astimezone(tz).date()
    due_day: date | None = None
    if props.get("due_date_from") and lookup(data, props["due_date_from"]):
        raw = lookup(data, props["due_date_from"])
        try:
            due_day = date.fromisoformat(str(raw))
        except ValueError:
            raise WorkflowFailed(f"任务「{task_name}」的期限 {raw!r} 不是日期（YYYY-MM-DD）") from None
    if due_day is None:
        days = props.get("due_working_days")
        if days is None and props.get("due_working_days_from"):
            days = lookup(data, props["due_working_days_from"])
        if days is not None:
            n = _int(days, "due_working_days", task_name)
            due_day = calendar.add_working_days(created_day, n) if n > 0 else created_day
        elif props.get("due_natural_days") is not None:
            n = _int(props["due_natural_days"], "due_natural_days", task_name)
            due_day = calendar.add_natural_days(created_day, n) if n > 0 else created_day
    if due_day is None:
        return None
    warn, supervise = (ladder.PARAMETERS[p].bpmn_property for p in ("warn_before", "supervise_after"))
    confirmed = all(calendar.is_confirmed(y) for y in range(created_day.year, due_day.year + 1))
    return Deadline(
        due_at=calendar.end_of_day(due_day, tz),
        confirmed=confirmed,
        warn_before=_int(props.get(warn, default_warn), warn, task_name),
        supervise_after=_int(props.get(supervise, default_supervise), supervise, task_name),
    )


class Planner:
    """Deadlines and ladders within one transaction; loads the calendar once, when first needed."""

    def __init__(self, session, tz: ZoneInfo, default_warn: int, default_supervise: int, warn_hour: int = 9):
        self.session = session
        self.tz = tz
        self.default_warn = default_warn
        self.default_supervise = default_supervise
        self.warn_hour = warn_hour
        self._calendar: WorkCalendar | None = None

    @property
    def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            from engine.deadlines.calendar_store import calendar_of

            self._calendar = calendar_of(self.session)
        return self._calendar

    def deadline(self, props: dict, data: dict, created_at: datetime, task_name: str) -> Deadline | None:
        if not any(k in props for k in ("due_date_from", "due_working_days", "due_working_days_from",
                                        "due_natural_days")):
            return None
        return task_deadline(props, data, created_at, self.calendar, self.tz, self.default_warn,
                             self.default_supervise, task_name)

    def moments(self, task) -> dict[int, datetime]:
        """The moment of each level of the ladder in force for ``task``'s deadline."""
        params = {p.name: getattr(task, p.column) or 0 for p in ladder.PARAMETERS.values()}
        return ladder.current().moments(task.due_at, task.created_at, params, self.calendar, self.tz,
                                        self.warn_hour)

    def apply(self, task, deadline: Deadline | None, previous=None) -> None:
        """Give ``task`` its deadline and ladder state; a previous task of the same step with the
        same deadline passes its level on, so no level fires twice for one deadline."""
        if deadline is None:
            task.due_at = None
            task.next_escalation_at = None
            return
        task.due_at = deadline.due_at
        task.deadline_confirmed = deadline.confirmed
        task.warn_before_days = deadline.warn_before
        task.supervise_after_days = deadline.supervise_after
        same = previous is not None and previous.due_at == deadline.due_at
        task.escalation_level = previous.escalation_level if same else 0
        task.next_escalation_at = ladder.next_moment(self.moments(task), task.escalation_level)
