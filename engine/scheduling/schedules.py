"""Periodic process starts (circulars, measure progress reports) from schedules in the database.

Rules:
- ``cron:M H DOM MON DOW`` — a crontab line in local time (APScheduler's CronTrigger computes it);
- ``workday:N[:MONTHS][@HH:MM]`` — the N-th working day of the month (of the listed months,
  e.g. ``workday:5:1,4,7,10@09:00`` for the 5th working day after each quarter ends), at HH:MM.

A due schedule is claimed with a conditional UPDATE on its ``next_run_at`` (only one of several
schedulers can move it on), in a short transaction of its own. Then each instance of the run (one
per measure, one per enterprise in the pool…) starts on its own, through the service layer's
``start``: a start that fails becomes an incident with its data kept for a retry
(engine/monitoring/incidents.py), and the run's other starts go on.

A run claimed by a scheduler that dies before it has started all its instances leaves the rest
unstarted (at most once, never twice); the log and the schedule's ``last_instance_id`` show how far
it got.
"""
from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.deadlines.workcalendar import WorkCalendar
from engine.errors import EngineError
from engine.monitoring.incidents import describe
from engine.storage.models import AuditRecord, ProcessSchedule

log = logging.getLogger("zjtx.schedules")

_WORKDAY = re.compile(r"^workday:(\d{1,2})(?::([\d,]+))?(?:@(\d{1,2}):(\d{2}))?$")


class ScheduleRuleError(EngineError, ValueError):
    code = "schedule_rule_invalid"


def check_rule(rule: str, tz: ZoneInfo) -> None:
    if rule.startswith("cron:"):
        try:
            CronTrigger.from_crontab(rule[5:].strip(), timezone=tz)
        except ValueError as exc:
            raise ScheduleRuleError(f"周期规则「{rule}」不是有效的 crontab：{exc}") from None
        return
    match = _WORKDAY.match(rule)
    if not match:
        raise ScheduleRuleError(f"周期规则「{rule}」无效：应为 cron:分 时 日 月 周，或 workday:N[:月份][@时:分]")
    n, months, hour, minute = match.groups()
    if not 1 <= int(n) <= 23:
        raise ScheduleRuleError(f"周期规则「{rule}」无效：每月第 N 个工作日的 N 应在 1 到 23 之间")
    if months and not all(1 <= int(m) <= 12 for m in months.split(",") if m):
        raise ScheduleRuleError(f"周期规则「{rule}」无效：月份应在 1 到 12 之间")
    if hour is not None and not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
        raise ScheduleRuleError(f"周期规则「{rule}」无效：时刻应为 HH:MM")


def nth_workday(calendar: WorkCalendar, year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    day = first if calendar.is_workday(first) else calendar.add_working_days(first, 1)
    return calendar.add_working_days(day, n - 1) if n > 1 else day


def next_run(rule: str, after: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """The first moment strictly after ``after`` that the rule names (aware UTC)."""
    check_rule(rule, tz)
    if rule.startswith("cron:"):
        trigger = CronTrigger.from_crontab(rule[5:].strip(), timezone=tz)
        # The trigger's answer may be ``after`` itself (it rounds up to the second): a run claimed at
        # its very moment would fall due again at once.
        moment = trigger.get_next_fire_time(None, (after + timedelta(microseconds=1)).astimezone(tz))
        return moment.astimezone(after.tzinfo)
    n, months, hour, minute = _WORKDAY.match(rule).groups()
    allowed = {int(m) for m in months.split(",") if m} if months else set(range(1, 13))
    at = time(int(hour), int(minute)) if hour is not None else time(9, 0)
    local = after.astimezone(tz)
    year, month = local.year, local.month
    for _ in range(25):
        if month in allowed:
            moment = datetime.combine(nth_workday(calendar, year, month, int(n)), at, tz)
            if moment > local:
                return moment.astimezone(after.tzinfo)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise ScheduleRuleError(f"周期规则「{rule}」在两年内没有下一次运行时间")


class ScheduleService:
    def __init__(self, db, workflows, planner_factory: Callable, clock: Callable[[], datetime], tz: ZoneInfo,
                 incidents=None):
        self.db = db
        self.workflows = workflows
        self.planner_factory = planner_factory
        self.clock = clock
        self.tz = tz
        self.incidents = incidents  # engine.monitoring.incidents.IncidentService: failed starts become incidents

    def save(self, name: str, process_key: str, rule: str, data: dict | None = None,
             enabled: bool = True) -> dict:
        with self.db.write() as session:
            self.workflows.registry.latest(session, process_key)  # refuses an undeployed process
            calendar = self.planner_factory(session).calendar
            schedule = session.scalar(select(ProcessSchedule).where(ProcessSchedule.name == name))
            if schedule is None:
                schedule = ProcessSchedule(name=name)
                session.add(schedule)
            schedule.process_key, schedule.rule, schedule.data, schedule.enabled = process_key, rule, data or {}, enabled
            schedule.next_run_at = next_run(rule, self.clock(), calendar, self.tz) if enabled else None
            session.flush()
            return self._as_dict(schedule)

    def list(self) -> builtins.list[dict]:
        with self.db.read() as session:
            return [self._as_dict(s) for s in session.scalars(select(ProcessSchedule).order_by(ProcessSchedule.name))]

    @staticmethod
    def _as_dict(s: ProcessSchedule) -> dict:
        return {"name": s.name, "process": s.process_key, "rule": s.rule, "enabled": s.enabled, "data": s.data,
                "next_run_at": s.next_run_at.isoformat() if s.next_run_at else None,
                "last_run_at": s.last_run_at.isoformat() if s.last_run_at else None,
                "last_instance_id": s.last_instance_id, "last_error": s.last_error}

    def _instances_data(self, session: Session, schedule: ProcessSchedule, planned: datetime) -> builtins.list[dict]:
        """One start; or with ``{"for_each": kind}`` one per item of the fan-out a procedure registered
        under that kind (engine.runtime.extensions: ``pool_enterprise``, ``measure``)."""
        data = dict(schedule.data or {})
        for_each = data.pop("for_each", None)
        if for_each is None:
            return [data]
        fan_out = self.workflows.extensions.fan_out(for_each)
        if fan_out is None:
            raise ValueError(f"计划的 for_each「{for_each}」没有对应的展开方式")
        return fan_out(session, data, planned.astimezone(self.tz).date())

    @staticmethod
    def due_probe(now: datetime):
        """A query with a row when some scheduled start is due."""
        return select(ProcessSchedule.id).where(ProcessSchedule.enabled.is_(True), ProcessSchedule.next_run_at <= now)

    @staticmethod
    def next_due():
        """The moment the next scheduled start comes (the scheduler wakes then)."""
        return select(func.min(ProcessSchedule.next_run_at)).where(ProcessSchedule.enabled.is_(True))

    def run_due(self, limit: int = 10) -> int:
        """Start the processes whose schedules have come; returns how many started."""
        started = 0
        now = self.clock()
        with self.db.read() as session:
            due = list(session.execute(
                select(ProcessSchedule.id, ProcessSchedule.next_run_at)
                .where(ProcessSchedule.enabled.is_(True), ProcessSchedule.next_run_at <= now)
                .order_by(ProcessSchedule.next_run_at).limit(limit)))
        for schedule_id, planned in due:
            started += self._run_one(schedule_id, planned, now)
        return started

    def _run_one(self, schedule_id: int, planned: datetime, now: datetime) -> int:
        claimed = self._claim(schedule_id, planned, now)
        if claimed is None:
            return 0  # another scheduler took it, or the run could not be worked out (recorded)
        name, process_key, starts = claimed
        started, failures, last_id = 0, [], None
        for data in starts:
            try:
                result = self.workflows.start(process_key, data, actor=None)
            except Exception as exc:  # whatever it is, the run's other starts go on
                log.exception("schedule %s: starting %s with %s failed", name, process_key, data)
                failures.append(self._start_failed(schedule_id, data, exc))
                continue
            started += 1
            last_id = result["id"]
            self._started(schedule_id, last_id, name, planned, now)
        if failures:
            self._note_failures(schedule_id, len(starts), failures)
        if started or failures:
            log.info("schedule %s ran: %d started, %d failed", name, started, len(failures))
        return started

    def _claim(self, schedule_id: int, planned: datetime, now: datetime) -> tuple[str, str, builtins.list[dict]] | None:
        """Move the schedule on to its next run (if it is still at ``planned``) and say what this run
        starts: (schedule name, process key, the start data of each instance)."""
        try:
            with self.db.write() as session:
                schedule = session.get(ProcessSchedule, schedule_id)
                calendar = self.planner_factory(session).calendar
                following = next_run(schedule.rule, max(now, planned), calendar, self.tz)
                claimed = session.execute(
                    update(ProcessSchedule)
                    .where(ProcessSchedule.id == schedule_id, ProcessSchedule.next_run_at == planned)
                    .values(next_run_at=following, last_run_at=now, last_error=None)
                    .execution_options(synchronize_session=False))
                if claimed.rowcount != 1:
                    return None
                return schedule.name, schedule.process_key, self._instances_data(session, schedule, planned)
        except Exception as exc:
            # Keep the schedule moving and say why this run failed (the schedule list and an incident).
            log.exception("schedule %s: the run planned for %s failed", schedule_id, planned.isoformat())
            error, detail = describe(exc)
            with self.db.write() as session:
                schedule = session.get(ProcessSchedule, schedule_id)
                if schedule.next_run_at != planned:
                    return None  # moved on meanwhile by another scheduler
                try:
                    schedule.next_run_at = next_run(schedule.rule, max(now, planned),
                                                    self.planner_factory(session).calendar, self.tz)
                except EngineError:
                    schedule.next_run_at = None  # a rule that names no next moment: the admin must fix it
                schedule.last_error = error
                if self.incidents is not None:
                    self.incidents.schedule_failed(session, schedule, None, error, detail)
            return None

    def _started(self, schedule_id: int, instance_id: int, name: str, planned: datetime, now: datetime) -> None:
        # The start commits in the service layer's own transaction (its signature takes no extra
        # records), so its scheduled_start record follows in a short one. Should that one fail, the
        # instance still stands and its history shows it was started by "system".
        try:
            with self.db.write() as session:
                session.add(AuditRecord(instance_id=instance_id, action="scheduled_start", actor="system", at=now,
                                        data={"schedule": name, "planned": planned.isoformat()}))
                session.execute(update(ProcessSchedule).where(ProcessSchedule.id == schedule_id)
                                .values(last_instance_id=instance_id).execution_options(synchronize_session=False))
        except Exception:
            log.exception("schedule %s: instance %s started, recording it failed", name, instance_id)

    def _start_failed(self, schedule_id: int, data: dict, exc: Exception) -> str:
        error, detail = describe(exc)
        element = exc.details.get("task") if isinstance(exc, EngineError) else None
        if self.incidents is None:
            return error
        try:
            with self.db.write() as session:
                schedule = session.get(ProcessSchedule, schedule_id)
                self.incidents.schedule_failed(session, schedule, data, error, detail, element=element)
        except Exception:
            log.exception("schedule %s: recording the failed start as an incident failed", schedule_id)
        return error

    def _note_failures(self, schedule_id: int, total: int, failures: builtins.list[str]) -> None:
        """The schedule's last_error says how much of this run failed, and the first reason."""
        summary = (f"本次运行 {total} 个发起中 {len(failures)} 个失败，已记为异常事件（系统管理 › 异常事件）；"
                   f"首个原因：{failures[0]}")
        try:
            with self.db.write() as session:
                session.execute(update(ProcessSchedule).where(ProcessSchedule.id == schedule_id)
                                .values(last_error=summary).execution_options(synchronize_session=False))
        except Exception:
            log.exception("schedule %s: recording the run's failures failed", schedule_id)
