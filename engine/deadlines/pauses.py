"""A task's clock paused (挂起) while its department waits for the enterprise: the working days it counts.

A pause from day P (Beijing) to its resumption on day R counts the working days in (P, R], as every
deadline here counts from the day after (次日起算): paused and resumed the same day, nothing; paused on
a Wednesday and resumed on the next Wednesday, five. The deadline moves later by that many working
days, at most by the pause's limit (the process property ``pause_max_working_days``): a pause that runs
past its limit is flagged when it does, and the days beyond it are the department's own (the clock is
deemed to have run again from the limit on). A step may be paused at most ``pause_max_times`` times.
While a pause is open, the task's ladder is stopped (``human_task.next_escalation_at`` is NULL).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines.workcalendar import WorkCalendar
from engine.storage.models import TaskPause

# The process properties a diagram sets (bpmn:process), and their defaults.
MAX_TIMES, MAX_WORKING_DAYS = "pause_max_times", "pause_max_working_days"
DEFAULTS = {MAX_TIMES: 2, MAX_WORKING_DAYS: 10}
# A task opts in with the task property pausable="true".
PAUSABLE = "pausable"


def is_pausable(props: Mapping[str, str]) -> bool:
    return str(props.get(PAUSABLE, "")).strip().lower() == "true"


def limits(properties: Mapping[str, str]) -> tuple[int, int]:
    """(times a step may be paused, working days a pause may move its deadline) from the process
    properties, the defaults for what is missing or not a whole number ≥ 0."""
    out = []
    for name in (MAX_TIMES, MAX_WORKING_DAYS):
        raw = str(properties.get(name, "")).strip()
        out.append(int(raw) if raw.isascii() and raw.isdigit() else DEFAULTS[name])
    return out[0], out[1]


def working_days(calendar: WorkCalendar, paused_day: date, until_day: date) -> int:
    """Working days in (paused_day, until_day]; 0 when until_day is not later."""
    return max(calendar.working_days_between(paused_day, until_day), 0) if until_day > paused_day else 0


def limit_moment(calendar: WorkCalendar, tz: ZoneInfo, paused_day: date, limit_days: int) -> datetime:
    """The end of the last working day a pause from ``paused_day`` may last: later, it is over its limit."""
    day = calendar.add_working_days(paused_day, limit_days) if limit_days > 0 else paused_day
    return calendar.end_of_day(day, tz)


def latest_expected(calendar: WorkCalendar, today: date, limit_days: int) -> date:
    """The latest resumption date a pause starting today may announce."""
    return calendar.add_working_days(today, limit_days) if limit_days > 0 else today


def moved(calendar: WorkCalendar, tz: ZoneInfo, due_at: datetime, days: int) -> tuple[date, datetime]:
    """The due day and moment ``days`` working days after the deadline ``due_at`` (unchanged for 0)."""
    due_day = due_at.astimezone(tz).date()
    if days <= 0:
        return due_day, due_at
    day = calendar.add_working_days(due_day, days)
    return day, calendar.end_of_day(day, tz)


def open_pauses(session: Session, task_ids: Iterable[int]) -> dict[int, TaskPause]:
    """The open pause of each of ``task_ids`` that has one (one indexed query)."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    rows = session.scalars(select(TaskPause).where(TaskPause.task_id.in_(ids), TaskPause.resumed_at.is_(None)))
    return {p.task_id: p for p in rows}


def step_pauses(session: Session, deadline_key: str) -> list[TaskPause]:
    """Every pause of a department's step (its tasks share the deadline key), oldest first."""
    return list(session.scalars(select(TaskPause).where(TaskPause.deadline_key == deadline_key)
                                .order_by(TaskPause.id)))


def clock_stopped(task_id_column):
    """A correlated EXISTS: the clock of the task of ``task_id_column`` is stopped now (an open pause not
    past its limit), for list filters (by the index on task_id, resumed_at)."""
    return select(TaskPause.id).where(TaskPause.task_id == task_id_column, TaskPause.resumed_at.is_(None),
                                      TaskPause.over_limit_at.is_(None)).exists()


def within(calendar: WorkCalendar, pause: TaskPause, tz: ZoneInfo, start: date, end: date,
           ended_at: datetime | None = None) -> int:
    """The working days of ``pause`` that fall in the period [start, end] (Beijing dates): a pause still
    open at the period's end counts to it; ``ended_at`` is when the pause ended otherwise (its task
    closed without a resumption)."""
    paused_day = pause.paused_at.astimezone(tz).date()
    stop = pause.resumed_at or ended_at
    until = min(stop.astimezone(tz).date(), end) if stop is not None else end
    return working_days(calendar, max(paused_day, start - timedelta(days=1)), until)
