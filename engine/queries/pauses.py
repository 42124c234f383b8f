"""The pauses (挂起) of a task and of an item, for the task page, the item page and the API: whether the
clock is paused now (why, since when, by whom, until when expected), the history of the step's pauses,
and what the viewer may do. Indexed reads only (a task's pauses by its step's deadline key, an item's by
its instance id); the task's properties come from the version's parsed spec, not from the state."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines import pauses as rules
from engine.deadlines.calendar_store import calendar_of
from engine.errors import TaskNotFound
from engine.identity import authz
from engine.queries.matter import people, person
from engine.repository.registry import properties_of
from engine.runtime.pauses import may_end
from engine.runtime.projection import IN_PROGRESS, OPEN_STATUSES
from engine.storage.models import Department, HumanTask, TaskPause

# The audit actions of pauses (engine.runtime.pauses), as the timelines name them.
PAUSE_ACTIONS = {"pause": "挂起（暂停计时）", "resume": "恢复办理", "pause_over_limit": "挂起超期，期限恢复计算"}


def audit_fields(action: str, data: dict | None, tz: ZoneInfo) -> list[tuple[str, str]]:
    """What a pause's audit record says, as (title, value) pairs for the timeline."""
    data = data or {}

    def day(value) -> str:
        return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d") if value else ""

    if action == "pause":
        pairs = [("挂起原因", data.get("reason")), ("预计恢复", data.get("expected_resume_on"))]
    elif action == "resume":
        pairs = [("挂起工作日", data.get("working_days")), ("期限顺延（工作日）", data.get("credited_days")),
                 ("新的期限", day(data.get("due_after"))), ("恢复说明", data.get("note"))]
    elif action == "pause_over_limit":
        pairs = [("挂起上限（工作日）", data.get("limit_days")), ("新的期限", day(data.get("due_after")))]
    else:
        return []
    return [(title, str(value)) for title, value in pairs if value not in (None, "")]


def element_properties(parsed, bpmn_id: str) -> dict:
    """The properties of a BPMN element of a version, from its parsed spec (top process or sub-processes)."""
    for process in (getattr(parsed, "spec", None), *(getattr(parsed, "subprocess_specs", None) or {}).values()):
        for spec in (getattr(process, "task_specs", None) or {}).values():
            if getattr(spec, "bpmn_id", None) == bpmn_id:
                return properties_of(spec)
    return {}


class PauseViews:
    def __init__(self, db, tz: ZoneInfo, clock, workflows):
        self.db, self.tz, self.clock, self.workflows = db, tz, clock, workflows

    def _local(self, moment: datetime | None) -> str | None:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if moment is not None else None

    def entry(self, pause: TaskPause, names: dict[str, str], task: HumanTask | None = None, calendar=None,
              department: str | None = None) -> dict:
        """One pause as the pages and the API show it; an open one with the working days paused so far."""
        now = self.clock()
        is_open = pause.resumed_at is None and (task is None or task.status in OPEN_STATUSES)
        so_far = None
        if is_open and calendar is not None:
            so_far = rules.working_days(calendar, pause.paused_at.astimezone(self.tz).date(),
                                        now.astimezone(self.tz).date())
        return {"id": pause.id, "task_id": pause.task_id, "task_name": task.name if task is not None else None,
                "department": department, "open": is_open, "reason": pause.reason,
                "paused_at": self._local(pause.paused_at), "paused_by": person(names, pause.paused_by),
                "expected_resume_on": pause.expected_resume_on.isoformat() if pause.expected_resume_on else None,
                "resumed_at": self._local(pause.resumed_at),
                "resumed_by": person(names, pause.resumed_by) if pause.resumed_by else None,
                "resume_note": pause.resume_note, "working_days": pause.working_days if not is_open else so_far,
                "credited_days": pause.credited_days, "limit_days": pause.limit_days,
                "over_limit": pause.over_limit_at is not None, "over_limit_at": self._local(pause.over_limit_at),
                "due_before": self._local(pause.due_at_paused), "due_after": self._local(pause.due_at_resumed)}

    def task_view(self, actor: authz.Actor, task_id: int) -> dict:
        """The pauses of a task's step and what ``actor`` may do (TaskNotFound for a task one may not see)."""
        with self.db.read() as session:
            task = session.get(HumanTask, task_id)
            if task is None or not self._may_see(session, actor, task.instance_id):
                raise TaskNotFound(task_id)
            return self._task_view(session, actor, task)

    def _task_view(self, session: Session, actor: authz.Actor, task: HumanTask) -> dict:
        version = task.instance.version
        props = element_properties(self.workflows.parsed_spec(version), task.bpmn_id) if task.kind == "bpmn" else {}
        max_times, max_days = rules.limits(self.workflows.versions.properties_of(version))
        pauses = rules.step_pauses(session, task.deadline_key or f"task:{task.id}")
        names, calendar = people(session), calendar_of(session)
        history = [self.entry(p, names, task if p.task_id == task.id else None, calendar) for p in pauses]
        active = next((h for h in history if h["open"] and h["task_id"] == task.id), None)
        pausable = rules.is_pausable(props)
        may_act = task.status in OPEN_STATUSES and authz.can_act(actor, task)
        overdue = task.due_at is not None and task.due_at < self.clock()
        return {"pausable": pausable, "active": active, "stopped": active is not None and not active["over_limit"],
                "history": history, "count": len(pauses), "max_times": max_times, "limit_days": max_days,
                "latest_expected": rules.latest_expected(calendar, self.clock().astimezone(self.tz).date(),
                                                         max_days).isoformat(),
                "can_pause": bool(pausable and may_act and active is None and task.status == IN_PROGRESS
                                  and len(pauses) < max_times and not overdue),
                "can_resume": bool(task.status in OPEN_STATUSES and active is not None and may_end(actor, task)),
                "resume_for_department": bool(active is not None and not may_act and may_end(actor, task))}

    def item_view(self, actor: authz.Actor, instance_id: int) -> dict:
        """An item's pauses, newest last, and the ids of its tasks paused now (the item page)."""
        with self.db.read() as session:
            if not self._may_see(session, actor, instance_id):
                return {"history": [], "paused": [], "stopped": []}
            names, calendar = people(session), calendar_of(session)
            rows = session.execute(
                select(TaskPause, HumanTask, Department.name).join(HumanTask, TaskPause.task_id == HumanTask.id)
                .join(Department, TaskPause.department_id == Department.id)
                .where(TaskPause.instance_id == instance_id).order_by(TaskPause.id)).all()
            history = [self.entry(p, names, t, calendar, d) for p, t, d in rows]
            return {"history": history, "paused": [h["task_id"] for h in history if h["open"]],
                    "stopped": [h["task_id"] for h in history if h["open"] and not h["over_limit"]]}

    @staticmethod
    def _may_see(session: Session, actor: authz.Actor, instance_id: int) -> bool:
        return authz.may_see_item(session, actor, instance_id)

