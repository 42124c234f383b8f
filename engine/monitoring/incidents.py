"""Incidents: what the engine tried to do on its own and kept failing, for an administrator to resolve.

Four kinds:

* ``timer`` / ``step`` — a BPMN timer, or a step an instance was left in, failed. The instance waits
  ``backoff × 2^(n-1)`` before the n-th retry (others go first meanwhile); after ``max_attempts``
  it stops (status ``error``) and an incident is opened.
* ``schedule`` — one start of a scheduled run failed; its start data is kept, so that it can be
  started again once the cause is fixed. The run's other starts are not held back.
* ``delivery`` — a notification became a dead letter.

An incident is written in the transaction of the failure it records, with an audit record and a
notice to every administrator: in the inbox, and by e-mail when they have an address. A failed
notification is told in the inbox only, so that a broken mail server cannot feed on itself.
Administrators retry or cancel incidents on /admin/incidents, each in one transaction with an
audit record.
"""
from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import Conflict, EngineError, NotFound, PermissionDenied
from engine.identity import authz
from engine.runtime import projection
from engine.runtime.serialization import load_state
from engine.storage.db import retry_on_disconnect
from engine.storage.models import (
    AuditRecord,
    HumanTask,
    Incident,
    OutboxMessage,
    ProcessInstance,
    ProcessSchedule,
    User,
    UserRole,
)
from notifications.channels import labels as channel_labels
from notifications.outbox import Notice

log = logging.getLogger("zjtx.incidents")

TIMER, STEP, SCHEDULE, DELIVERY = "timer", "step", "schedule", "delivery"
KIND_LABELS = {TIMER: "定时器", STEP: "流程步骤", SCHEDULE: "计划发起", DELIVERY: "通知发送"}
RETRIED, CANCELLED, RESOLVED = "retried", "cancelled", "resolved"
RESOLUTION_LABELS = {RETRIED: "已重试", CANCELLED: "已取消", RESOLVED: "已解决"}
# What the administrator should do next, per kind (shown on the page and in the notice).
ADVICE = {
    TIMER: "该事项已暂停自动处理。请查看原始错误找出原因（如流程脚本出错、数据缺失）；需要修改流程的，"
           "请流程设计人员改图部署后把该事项迁移到新版本。原因排除后点「重试」，系统会立即重新执行；"
           "该事项不应再继续的，点「取消」，其未办结的待办一并取消。",
    STEP: "该事项停在一个未完成的步骤上。请查看原始错误找出原因；需要修改流程的，请流程设计人员改图部署后"
          "把该事项迁移到新版本。原因排除后点「重试」继续执行；该事项不应再继续的，点「取消」，"
          "其未办结的待办一并取消。",
    SCHEDULE: "按计划发起的一个流程未能启动（同一次计划的其他流程已正常发起）。请按错误信息修正原因"
              "（如企业资料不全、流程表单不符），然后点「重试」用保存的数据重新发起；不再需要的，点「取消」。",
    DELIVERY: "一条通知多次发送失败。请检查邮件服务器或群机器人（Webhook）的设置和网络，然后点「重试」"
              "重新发送；收件地址已失效、不必再发的，点「取消」。",
}
RUNNING, ERROR, COMPLETED, INSTANCE_CANCELLED = "running", "error", "completed", "cancelled"


class IncidentNotFound(NotFound):
    code = "incident_not_found"

    def __init__(self, incident_id):
        super().__init__(f"异常事件 {incident_id} 不存在", incident=incident_id)


class RetryFailed(EngineError):
    """Retrying a scheduled start failed again; the incident stays open with the new error."""

    code = "incident_retry_failed"


def describe(exc: BaseException) -> tuple[str, str]:
    """(the Chinese message for users, the original text and traceback for administrators)."""
    detail = "".join(traceback.format_exception(exc)).strip()
    if isinstance(exc, EngineError):
        return exc.message, detail
    return f"系统内部错误（{type(exc).__name__}）：{str(exc)[:300]}", detail


class IncidentService:
    def __init__(self, db, notifier, clock: Callable[[], datetime], tz: ZoneInfo, base_url: str,
                 workflows=None, deliverer=None):
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.tz = tz
        self.base_url = base_url.rstrip("/")
        self.workflows = workflows  # engine.runtime.service.WorkflowService: starts a failed scheduled start again
        self.deliverer = deliverer  # notifications.delivery.Deliverer: requeues a dead letter

    # -- recording (inside the caller's transaction) -----------------------------------------
    def instance_failed(self, session: Session, instance: ProcessInstance, element: str | None,
                        element_name: str | None, error: str, detail: str | None, max_attempts: int = 3,
                        backoff_seconds: float = 60, kind: str = TIMER) -> bool:
        """A timer (or step) of ``instance`` failed. Until the last attempt the instance waits, longer
        each time; then it stops and an incident is opened. Returns True when it became an incident."""
        now = self.clock()
        attempts = (instance.failed_attempts or 0) + 1
        instance.failed_attempts = attempts
        instance.last_error = error
        if attempts < max_attempts:
            instance.next_timer_at = now + timedelta(seconds=backoff_seconds * 2 ** (attempts - 1))
            log.warning("instance %s: %s %s failed (attempt %d of %d), next try at %s: %s", instance.id, kind,
                        element, attempts, max_attempts, instance.next_timer_at.isoformat(), error)
            return False
        instance.status = ERROR
        instance.next_timer_at = None
        self._open(session, kind, error, detail, attempts, now, instance=instance, element=element,
                   element_name=element_name)
        return True

    def schedule_failed(self, session: Session, schedule: ProcessSchedule, data: dict | None, error: str,
                        detail: str | None, element: str | None = None,
                        element_name: str | None = None) -> Incident:
        """One start of a scheduled run failed; the incident keeps its data for a retry (``data`` None:
        the run could not even work out what to start)."""
        now = self.clock()
        schedule.last_error = error
        kept = {"process_key": schedule.process_key, "schedule": schedule.name, "start_data": data}
        return self._open(session, SCHEDULE, error, detail, 1, now, schedule=schedule, element=element,
                          element_name=element_name, data=kept)

    def delivery_dead(self, session: Session, message: OutboxMessage, error: str) -> Incident:
        """An outbox message became a dead letter (in the transaction that marked it)."""
        now = self.clock()
        row = session.get(OutboxMessage, message.id) or message
        channel = channel_labels().get(row.channel, row.channel)
        text = f"通知「{row.subject}」经 {row.attempts} 次尝试仍未能通过{channel}发送到 {row.address}"
        return self._open(session, DELIVERY, text, error, row.attempts, now, message=row, email=False,
                          data={"channel": row.channel, "address": row.address, "subject": row.subject})

    def _open(self, session: Session, kind: str, error: str, detail: str | None, attempts: int, now: datetime,
              instance: ProcessInstance | None = None, schedule: ProcessSchedule | None = None,
              message: OutboxMessage | None = None, element: str | None = None, element_name: str | None = None,
              data: dict | None = None, email: bool = True) -> Incident:
        if instance is not None:
            existing = session.scalar(select(Incident).where(Incident.instance_id == instance.id,
                                                             Incident.resolved_at.is_(None)).limit(1))
            if existing is not None:  # one open incident per instance: it is brought up to date
                existing.kind, existing.error, existing.detail = kind, error, detail
                existing.element, existing.element_name = _cut(element, 128), _cut(element_name, 200)
                existing.attempts = max(existing.attempts, attempts)
                return existing
        incident = Incident(kind=kind, instance_id=instance.id if instance is not None else None,
                            schedule_id=schedule.id if schedule is not None else None,
                            message_id=message.id if message is not None else None,
                            element=_cut(element, 128), element_name=_cut(element_name, 200), error=error,
                            detail=detail, data=data, attempts=attempts, created_at=now)
        session.add(incident)
        session.flush()
        session.add(AuditRecord(instance_id=incident.instance_id, action="incident", actor="system", at=now,
                                task_name=incident.element_name,
                                data={"incident": incident.id, "kind": kind, "element": incident.element,
                                      "error": error, "attempts": attempts}))
        if instance is not None:
            subject = f"{instance.title or instance.business_key}（{instance.business_key}）"
        elif schedule is not None:
            subject = f"计划「{schedule.name}」（流程 {schedule.process_key}）"
        else:
            subject = f"通知「{message.subject}」" if message is not None else "系统任务"
        self._notify_admins(session, incident, subject, now, email)
        log.warning("incident %s (%s) opened: %s", incident.id, kind, error)
        return incident

    def _notify_admins(self, session: Session, incident: Incident, subject: str, now: datetime,
                       email: bool) -> None:
        admins = list(session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                                      .where(User.active.is_(True), UserRole.role == "admin")
                                      .order_by(User.id)).unique())
        if not admins:
            return
        link = f"{self.base_url}/admin/incidents/{incident.id}"
        notice = Notice(key=f"incident:{incident.id}", template="incident", link=link, context={
            "kind_label": KIND_LABELS[incident.kind], "subject": subject, "incident_id": incident.id,
            "attempts": incident.attempts, "element": incident.element, "element_name": incident.element_name,
            "error": incident.error, "advice": ADVICE[incident.kind]})
        # The administrators' own channels, not the departments' groups; a dead letter only on those that
        # deliver at once (the inbox), so that a broken channel cannot feed on itself.
        self.notifier.notify(session, notice, admins, None, now,
                             only=lambda channel: channel.personal and (email or not channel.queued))

    # -- reading ------------------------------------------------------------------------------
    def list(self, open_only: bool = True, limit: int = 50, offset: int = 0) -> list[dict]:
        """Incidents, open ones first, newest first."""
        query = self._rows()
        if open_only:
            query = query.where(Incident.resolved_at.is_(None))
        else:
            query = query.order_by(case((Incident.resolved_at.is_(None), 0), else_=1))
        query = query.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit).offset(offset)
        with self.db.read() as session:
            return [self._as_dict(*row) for row in session.execute(query)]

    def count_open(self) -> int:
        with self.db.read() as session:
            return session.scalar(select(func.count(Incident.id)).where(Incident.resolved_at.is_(None))) or 0

    def get(self, incident_id: int) -> dict:
        """One incident with the original error text (for administrators)."""
        with self.db.read() as session:
            row = session.execute(self._rows().where(Incident.id == incident_id)).one_or_none()
            if row is None:
                raise IncidentNotFound(incident_id)
            return self._as_dict(*row, detail=True)

    def open_for_message(self, message_id: int) -> int | None:
        """The open incident of an outbox message, if any."""
        with self.db.read() as session:
            return session.scalar(select(Incident.id).where(Incident.message_id == message_id,
                                                            Incident.resolved_at.is_(None)).limit(1))

    @staticmethod
    def _rows():
        return (select(Incident, ProcessInstance.business_key, ProcessInstance.title, ProcessInstance.status,
                       ProcessSchedule.name, OutboxMessage.subject, OutboxMessage.status)
                .outerjoin(ProcessInstance, Incident.instance_id == ProcessInstance.id)
                .outerjoin(ProcessSchedule, Incident.schedule_id == ProcessSchedule.id)
                .outerjoin(OutboxMessage, Incident.message_id == OutboxMessage.id))

    def _as_dict(self, i: Incident, business_key, title, instance_status, schedule_name, subject, message_status,
                 *, detail: bool = False) -> dict:
        def local(moment: datetime | None) -> datetime | None:  # Beijing time, as the pages show it
            return moment.astimezone(self.tz) if moment is not None else None

        out = {"id": i.id, "kind": i.kind, "kind_label": KIND_LABELS.get(i.kind, i.kind),
               "instance_id": i.instance_id, "business_key": business_key, "title": title,
               "instance_status": instance_status, "schedule_id": i.schedule_id,
               "schedule": schedule_name or (i.data or {}).get("schedule"), "message_id": i.message_id,
               "message_subject": subject, "message_status": message_status, "element": i.element,
               "element_name": i.element_name, "error": i.error, "data": i.data, "attempts": i.attempts,
               "created_at": i.created_at, "created_local": local(i.created_at), "resolved_at": i.resolved_at,
               "resolved_local": local(i.resolved_at), "resolved_by": i.resolved_by, "resolution": i.resolution,
               "resolution_label": RESOLUTION_LABELS.get(i.resolution or "", ""), "open": i.resolved_at is None,
               "advice": ADVICE.get(i.kind, "")}
        if detail:
            out["detail"] = i.detail
        return out

    # -- resolving (one transaction each) ------------------------------------------------------
    def retry(self, incident_id: int, actor) -> dict:
        """Do again what failed: the instance back into the timer queue, the scheduled start started
        again with its kept data, the dead letter back into the outbox. Returns the incident (and
        ``started``, the new instance, for a scheduled start)."""
        with self.db.read() as session:
            kind = session.scalar(select(Incident.kind).where(Incident.id == incident_id))
        if kind is None:
            raise IncidentNotFound(incident_id)
        if kind == SCHEDULE:
            return self._retry_start(incident_id, actor)

        def work(session: Session) -> dict:
            who, incident = self._claim(session, incident_id, actor)
            now = self.clock()
            note = None
            if incident.kind in (TIMER, STEP):
                instance = session.get(ProcessInstance, incident.instance_id)
                if instance.status in (COMPLETED, INSTANCE_CANCELLED):
                    raise Conflict(f"事项 {instance.business_key} 已{'办结' if instance.status == COMPLETED else '取消'}，"
                                   "无需重试；请点「取消」关闭此异常事件")
                # The scheduler's timer job takes it at its next tick (next_timer_at <= now, running).
                instance.status, instance.failed_attempts, instance.last_error = RUNNING, 0, None
                instance.next_timer_at = now
                instance.updated_at = now
            elif incident.message_id is None:
                note = "该通知已被删除"
            elif not self.deliverer.retry_in(session, incident.message_id):
                note = "该通知已不在发送失败状态（已被重新排队或已发出）"
            resolution = RETRIED if note is None else RESOLVED
            self._resolve(session, incident, resolution, who, now, {"note": note} if note else {})
            return {**self._fresh(session, incident.id), "note": note}
        return self._run(work)

    def _retry_start(self, incident_id: int, actor) -> dict:
        # The incident is marked retried before the start, in its own transaction, so that two
        # administrators clicking at once start the process once; if the start fails again it reopens.
        def claim(session: Session):
            who, incident = self._claim(session, incident_id, actor)
            kept = incident.data or {}
            if not kept.get("process_key") or kept.get("start_data") is None:
                raise Conflict("该异常事件没有保存可用于重新发起的数据，无法重试；请检查计划设置后点「取消」")
            self._resolve(session, incident, RETRIED, who, self.clock(), audit=False)
            return who.username, kept["process_key"], kept["start_data"], kept.get("schedule")

        username, process_key, start_data, schedule = self._run(claim)
        try:
            started = self.workflows.start(process_key, start_data, actor=None)
        except Exception as exc:
            error, detail = describe(exc)
            log.exception("incident %s: starting %s again failed", incident_id, process_key)

            def reopen(session: Session) -> None:
                incident = session.get(Incident, incident_id)
                incident.resolved_at = incident.resolved_by = incident.resolution = None
                incident.attempts += 1
                incident.error, incident.detail = error, detail
                session.add(AuditRecord(action="incident_retry_failed", actor=username, at=self.clock(),
                                        data={"incident": incident_id, "kind": SCHEDULE, "error": error}))
            self._run(reopen)
            raise RetryFailed(f"重新发起未成功：{error}") from None

        def record(session: Session) -> dict:
            now = self.clock()
            session.add(AuditRecord(instance_id=started["id"], action="scheduled_start", actor="system", at=now,
                                    data={"schedule": schedule, "incident": incident_id, "retried_by": username}))
            session.add(AuditRecord(instance_id=started["id"], action="incident_retried", actor=username, at=now,
                                    data={"incident": incident_id, "kind": SCHEDULE, "resolution": RETRIED}))
            return {**self._fresh(session, incident_id), "started": started}
        return self._run(record)

    def cancel(self, incident_id: int, actor) -> dict:
        """Give up what failed: the instance is cancelled with its open tasks; a scheduled start or a
        dead letter is left as it is. Either way the incident is closed as cancelled."""
        def work(session: Session) -> dict:
            who, incident = self._claim(session, incident_id, actor)
            now = self.clock()
            extra = {}
            if incident.kind in (TIMER, STEP):
                extra["tasks_cancelled"] = self._cancel_instance(session, incident.instance_id, who, now)
            self._resolve(session, incident, CANCELLED, who, now, extra)
            return self._fresh(session, incident.id)
        return self._run(work)

    def _cancel_instance(self, session: Session, instance_id: int, who: authz.Actor, now: datetime) -> int:
        instance = session.get(ProcessInstance, instance_id)
        if instance.status in (COMPLETED, INSTANCE_CANCELLED):
            return 0
        instance.status, instance.next_timer_at, instance.updated_at = INSTANCE_CANCELLED, None, now
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                             HumanTask.status.in_(projection.OPEN_STATUSES))))
        for task in tasks:
            task.status, task.completed_at, task.next_escalation_at = projection.CANCELLED, now, None
            session.add(AuditRecord(instance_id=instance_id, task_id=task.id, action="task_cancelled",
                                    actor=who.username, at=now, task_name=task.name))
        self._left_behind(session, instance, now)
        return len(tasks)

    def _left_behind(self, session: Session, instance: ProcessInstance, now: datetime) -> None:
        """The procedures' cancel handlers, in the cancelling transaction, with the last state if it still loads."""
        workflows = self.workflows
        handler = workflows.extensions.cancel_handler(instance.version.definition.key) if workflows else None
        if handler is None:
            return
        try:
            workflow = load_state(instance.state_json, instance.serializer_version,
                                  workflows.parsed_spec(instance.version), workflows.script_engine)
            data = projection.current_data(workflow)
        except Exception:  # a state that no longer loads leaves its handlers no data
            data = {}
        handler(session, instance, data, now)

    def _claim(self, session: Session, incident_id: int, actor) -> tuple[authz.Actor, Incident]:
        who = authz.actor_for(session, actor)
        if not who.is_admin:
            raise PermissionDenied("只有系统管理员可以处理异常事件")
        incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
        if incident is None:
            raise IncidentNotFound(incident_id)
        if incident.resolved_at is not None:
            label = RESOLUTION_LABELS.get(incident.resolution or "", "处理")
            raise Conflict(f"异常事件 {incident_id} 已于 {incident.resolved_at.astimezone(self.tz):%Y-%m-%d %H:%M} "
                           f"由 {incident.resolved_by or '系统'} {label}，不能再重试或取消")
        return who, incident

    @staticmethod
    def _resolve(session: Session, incident: Incident, resolution: str, who: authz.Actor, now: datetime,
                 extra: dict | None = None, audit: bool = True) -> None:
        incident.resolved_at, incident.resolved_by, incident.resolution = now, who.username, resolution
        if audit:
            session.add(AuditRecord(instance_id=incident.instance_id, action=f"incident_{resolution}",
                                    actor=who.username, at=now, task_name=incident.element_name,
                                    data={"incident": incident.id, "kind": incident.kind, "resolution": resolution,
                                          **{k: v for k, v in (extra or {}).items() if v is not None}}))
        session.flush()

    def _fresh(self, session: Session, incident_id: int) -> dict:
        return self._as_dict(*session.execute(self._rows().where(Incident.id == incident_id)).one())

    def _run(self, work: Callable[[Session], object]):
        def attempt():
            with self.db.write() as session:
                return work(session)
        try:
            return retry_on_disconnect(attempt)
        except StaleDataError:
            raise Conflict("该事项正被系统或他人同时处理，本次操作未保存，请刷新后重试") from None


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]
