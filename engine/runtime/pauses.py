"""Pausing a task's clock (挂起) and resuming it: commands, and the scheduler's check of a pause's limit.

The rules (working days, limits) are in :mod:`engine.deadlines.pauses`. A task opts in with the BPMN task
property ``pausable="true"``; its process may set ``pause_max_times`` and ``pause_max_working_days``.

One source of truth for the deadline: where the task's deadline comes from its data
(``due_date_from``, e.g. ``assignment.due_date``), moving it moves that date in the workflow state, in
the same transaction as the task row, so a later re-projection (the same step created again) computes
the moved deadline; an extension asked afterwards starts from it. The pause rows are the record of
the pauses, not an input of the deadline.

Each command is one transaction: the pause row, the task row (its ladder stopped or re-planned), the
instance (its revision bumped, so a completion computed meanwhile fails with Conflict instead of
completing a paused task), the audit record and the notices. A paused task cannot be completed: it is
resumed first (explicitly, with what the enterprise supplied), so the record says when the clock ran.
"""
from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.deadlines import pauses as rules
from engine.deadlines.ladder import next_moment
from engine.errors import Conflict, TaskNotFound, ValidationFailed
from engine.identity import authz
from engine.identity.org import DepartmentDirectory
from engine.repository.registry import properties_of
from engine.runtime import pause_notices, projection
from engine.runtime.datapath import assign, lookup
from engine.runtime.serialization import load_state
from engine.storage.models import AuditRecord, HumanTask, ProcessInstance, TaskPause

REASON_MAX, NOTE_MAX = 500, 500
# Who may end another unit's pause (the department forgot to resume once the papers came): they say why.
SUPERVISORS = frozenset({"dispatcher", "leading_group_office"})


def check_not_paused(session: Session, task: HumanTask) -> None:
    """Refuse to complete a paused task (engine.runtime.service calls this before computing the step)."""
    if task.kind == "bpmn" and rules.open_pauses(session, [task.id]):
        raise Conflict(f"任务「{task.name}」已挂起，不能提交：请先恢复办理（恢复计时），再办理答复或申请延期",
                       task_id=task.id)


def _text(value, field: str, label: str, limit: int, required: bool,
          hint: str = "说明等待企业补充的材料或事项") -> str | None:
    text = str(value).strip() if value is not None else ""
    if not text:
        if required:
            raise ValidationFailed({field: f"请填写{label}：{hint}"})
        return None
    if len(text) > limit:
        raise ValidationFailed({field: f"{label}不能超过 {limit} 字"})
    return text


class PauseService:
    def __init__(self, workflows, notifier, base_url: str):
        self.w = workflows  # the runtime (engine.runtime.service.WorkflowService)
        self.notices = pause_notices.PauseNotices(notifier, workflows.tz, base_url, workflows.extensions)

    # -- commands ----------------------------------------------------------------------------
    def pause(self, task_id: int, actor, reason, expected_resume_on=None) -> dict:
        """Pause an open task of the actor's (the roles of the task, in its department) with a reason and,
        optionally, the Beijing date it expects to resume."""
        def work(session: Session) -> dict:
            who, task = self._task(session, task_id, actor)
            instance = task.instance
            spiff = self._spiff_task(task, self._workflow(instance))
            max_times, max_days = rules.limits(self.w.versions.properties_of(instance.version))
            if not rules.is_pausable(properties_of(spiff.task_spec)):
                raise Conflict(f"「{task.name}」不能挂起：流程未允许该步骤挂起（任务属性 pausable）", task_id=task.id)
            earlier = rules.step_pauses(session, task.deadline_key or f"task:{task.id}")
            if rules.open_pauses(session, [task.id]):
                raise Conflict(f"任务「{task.name}」已挂起，请勿重复挂起", task_id=task.id)
            if len(earlier) >= max_times:
                raise Conflict(f"挂起次数已达上限：每项任务至多挂起 {max_times} 次，本任务已挂起 {len(earlier)} 次，"
                               "不能再挂起；请按期办理答复，确需更多时间的请申请延期", task_id=task.id)
            now = self.w.clock()
            if task.due_at is not None and now > task.due_at:
                raise Conflict(f"已超过办理期限（{task.due_at.astimezone(self.w.tz):%Y年%m月%d日}），不能挂起；"
                               "请尽快办理答复", task_id=task.id)
            text = _text(reason, "reason", "挂起原因", REASON_MAX, required=True)
            calendar = self.w.planner(session).calendar
            today = now.astimezone(self.w.tz).date()
            expected = self._expected(expected_resume_on, calendar, today, max_days)
            pause = TaskPause(task_id=task.id, instance_id=instance.id, department_id=task.department_id,
                              deadline_key=task.deadline_key or f"task:{task.id}", paused_at=now,
                              paused_by=who.username, reason=text, expected_resume_on=expected, limit_days=max_days,
                              due_at_paused=task.due_at, check_at=rules.limit_moment(calendar, self.w.tz, today, max_days))
            session.add(pause)
            task.next_escalation_at = None  # the ladder stops while the clock does
            instance.updated_at = now  # bumps the revision: a completion computed meanwhile is refused
            session.flush()
            department = DepartmentDirectory.of(session).name_of(task.department_id)
            session.add(AuditRecord(instance_id=instance.id, task_id=task.id, action="pause", actor=who.username,
                                    at=now, task_name=task.name,
                                    data={"department": department, "reason": text,
                                          "expected_resume_on": expected.isoformat() if expected else None,
                                          "due_at": task.due_at.isoformat() if task.due_at else None,
                                          "number": len(earlier) + 1}))
            self.notices.paused(session, task, pause, spiff.data, who, len(earlier) + 1, max_times, now)
            return self._summary(task, pause)
        return self.w.run_write(work)

    def resume(self, task_id: int, actor, note=None) -> dict:
        """Resume a paused task: the deadline moves later by the working days paused (at most the pause's
        limit, and not again when the limit has moved it already), and the ladder starts again. The
        dispatcher or the office may end a unit's pause too, saying why; the unit is told."""
        def work(session: Session) -> dict:
            who, task = self._task(session, task_id, actor, supervising=True)
            pause = rules.open_pauses(session, [task.id]).get(task.id)
            if pause is None:
                raise Conflict(f"任务「{task.name}」未挂起，无需恢复", task_id=task.id)
            ended_for = not authz.can_act(who, task)  # a supervisor ending the unit's pause
            text = _text(note, "note", "恢复说明", NOTE_MAX, required=ended_for,
                         hint="说明为何由交办单位结束挂起（如企业已补齐材料）")
            now = self.w.clock()
            calendar = self.w.planner(session).calendar
            paused_day = pause.paused_at.astimezone(self.w.tz).date()
            days = rules.working_days(calendar, paused_day, now.astimezone(self.w.tz).date())
            before = task.due_at
            if pause.over_limit_at is None:  # the limit has not moved the deadline yet
                self._move_deadline(session, task, pause, min(days, pause.limit_days), now)
            else:
                self._replan(session, task, keep_level=True)
                task.instance.updated_at = now
            pause.resumed_at, pause.resumed_by, pause.resume_note = now, who.username, text
            pause.working_days, pause.check_at = days, None
            session.add(AuditRecord(instance_id=task.instance_id, task_id=task.id, action="resume",
                                    actor=who.username, at=now, task_name=task.name,
                                    data={"department": DepartmentDirectory.of(session).name_of(task.department_id),
                                          "working_days": days, "credited_days": pause.credited_days or 0,
                                          "due_before": before.isoformat() if before else None,
                                          "due_after": task.due_at.isoformat() if task.due_at else None,
                                          "note": text, "ended_for_department": ended_for}))
            self.notices.resumed(session, task, pause, self._data(task), who, before, now, department=ended_for)
            return self._summary(task, pause)
        return self.w.run_write(work)

    # -- the scheduler -------------------------------------------------------------------------
    @staticmethod
    def due_probe(now: datetime):
        """A query with a row when some open pause has reached its limit (the scheduler asks at each tick)."""
        return select(TaskPause.id).where(TaskPause.check_at <= now)

    @staticmethod
    def next_due():
        """The moment the next open pause reaches its limit (the scheduler wakes then)."""
        return select(func.min(TaskPause.check_at))

    def flag_due(self, limit: int = 20) -> int:
        """Pauses that reached their limit while still open: flagged, the deadline moved by the limit, the
        ladder started again (the clock runs from now on), everyone concerned told. Pauses whose task
        closed meanwhile (the engine took the token elsewhere) are closed with it. Returns pauses handled."""
        now = self.w.clock()
        with self.w.db.read() as session:  # the common case, nothing due, takes no write lock
            if session.scalar(self.due_probe(now).limit(1)) is None:
                return 0

        def work(session: Session) -> int:
            due = list(session.scalars(select(TaskPause).where(TaskPause.check_at <= now)
                                       .order_by(TaskPause.check_at).limit(limit).with_for_update(skip_locked=True)))
            for pause in due:
                pause.check_at = None
                task = session.get(HumanTask, pause.task_id)
                if pause.resumed_at is not None or task is None or task.status not in projection.OPEN_STATUSES:
                    if pause.resumed_at is None:  # the task ended while paused
                        pause.resumed_at, pause.resumed_by = (task.completed_at if task else None) or now, "system"
                    continue
                self._over_limit(session, task, pause, now)
            return len(due)
        return self.w.run_write(work)

    def _over_limit(self, session: Session, task: HumanTask, pause: TaskPause, now: datetime) -> None:
        pause.over_limit_at = now
        self._move_deadline(session, task, pause, pause.limit_days, now)
        session.add(AuditRecord(instance_id=task.instance_id, task_id=task.id, action="pause_over_limit",
                                actor="system", at=now, task_name=task.name,
                                data={"department": DepartmentDirectory.of(session).name_of(task.department_id),
                                      "limit_days": pause.limit_days,
                                      "due_after": task.due_at.isoformat() if task.due_at else None}))
        self.notices.over_limit(session, task, pause, self._data(task), now)

    # -- parts ---------------------------------------------------------------------------------
    def _task(self, session: Session, task_id: int, actor, supervising: bool = False) -> tuple[authz.Actor, HumanTask]:
        who = authz.actor_for(session, actor)
        task = session.scalar(select(HumanTask).where(HumanTask.id == task_id).with_for_update())
        if task is None:
            raise TaskNotFound(task_id)
        if not (supervising and who.roles & SUPERVISORS):
            authz.check_can_act(who, task)
        if task.kind != "bpmn" or task.status not in projection.OPEN_STATUSES:
            raise Conflict(f"任务「{task.name}」已{projection.STATUS_LABELS[task.status]}，不能挂起或恢复",
                           task_id=task.id)
        if task.status == projection.TO_SIGN:
            raise Conflict(f"任务「{task.name}」尚未签收：请先签收，再视情况挂起", task_id=task.id)
        return who, task

    def _workflow(self, instance: ProcessInstance):
        return load_state(instance.state_json, instance.serializer_version, self.w.parsed_spec(instance.version),
                          self.w.script_engine)

    @staticmethod
    def _spiff_task(task: HumanTask, workflow):
        spiff = workflow.get_task_from_id(UUID(task.spiff_task_id)) if task.spiff_task_id else None
        if spiff is None or spiff.state != TaskState.READY:
            raise Conflict(f"任务 {task.id} 当前不可办理，请刷新后重试", task_id=task.id)
        return spiff

    def _data(self, task: HumanTask) -> dict:
        spiff = self._workflow(task.instance).get_task_from_id(UUID(task.spiff_task_id))
        return spiff.data if spiff is not None else {}

    def _expected(self, raw, calendar, today: date, max_days: int) -> date | None:
        if raw in (None, ""):
            return None
        try:
            day = raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValidationFailed({"expected_resume_on": "预计恢复日期应为 YYYY-MM-DD 格式的日期"}) from None
        if day < today:
            raise ValidationFailed({"expected_resume_on": f"预计恢复日期不能早于今天（{today}）"})
        latest = rules.latest_expected(calendar, today, max_days)
        if day > latest:
            raise ValidationFailed({"expected_resume_on": f"预计恢复日期不能晚于 {latest}：每次挂起至多 {max_days} 个工作日"})
        return day

    def _move_deadline(self, session: Session, task: HumanTask, pause: TaskPause, days: int, now: datetime) -> None:
        """Move the deadline ``days`` working days later, in the workflow state when the task reads its
        deadline from its data, and on the row; re-plan the ladder; bump the instance's revision."""
        instance = task.instance
        pause.credited_days = days if task.due_at is not None else 0
        if task.due_at is not None and days > 0:
            calendar = self.w.planner(session).calendar
            day, due_at = rules.moved(calendar, self.w.tz, task.due_at, days)
            workflow = self._workflow(instance)
            spiff = workflow.get_task_from_id(UUID(task.spiff_task_id)) if task.spiff_task_id else None
            path = properties_of(spiff.task_spec).get("due_date_from") if spiff is not None else None
            # (A row whose Spiff task is gone is the projection's to close; its own deadline still moves.)
            if path and spiff.state == TaskState.READY and lookup(spiff.data, path) is not None:
                assign(spiff.data, path, day.isoformat())
                self.w.save(instance, workflow, now, DepartmentDirectory.of(session))
            task.due_at = due_at
            task.deadline_confirmed = bool(task.deadline_confirmed) and calendar.is_confirmed(day.year)
            self._replan(session, task, keep_level=False)
        else:
            self._replan(session, task, keep_level=True)
        instance.updated_at = now
        pause.due_at_resumed = task.due_at

    def _replan(self, session: Session, task: HumanTask, keep_level: bool) -> None:
        """The ladder of the task's (new) deadline: from the start for a new deadline, else where it was."""
        if task.due_at is None:
            task.next_escalation_at = None
            return
        if not keep_level:
            task.escalation_level = 0
        task.next_escalation_at = next_moment(self.w.planner(session).moments(task), task.escalation_level)

    def _summary(self, task: HumanTask, pause: TaskPause) -> dict:
        tz = self.w.tz
        return {"task_id": task.id, "pause_id": pause.id, "paused": pause.resumed_at is None,
                "paused_at": pause.paused_at.isoformat(), "paused_by": pause.paused_by, "reason": pause.reason,
                "expected_resume_on": pause.expected_resume_on.isoformat() if pause.expected_resume_on else None,
                "resumed_at": pause.resumed_at.isoformat() if pause.resumed_at else None,
                "working_days": pause.working_days, "credited_days": pause.credited_days,
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "due_local": task.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if task.due_at else None}



def may_end(actor: authz.Actor, task: HumanTask) -> bool:
    """Who may resume a paused task: its own people, or a supervisor for them."""
    return bool(actor.roles & SUPERVISORS) or authz.can_act(actor, task)
