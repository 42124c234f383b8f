"""How a step is computed and saved, for every kind of step (a start, a completion, a timer, the
rounds after an operation): compute in a read transaction (diagram code runs, no write lock held),
then write the instance (revision checked), its task rows and its audit records in one transaction.

Commands (engine.runtime.service) and timers (engine.scheduling.timers) are built on this.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.config import Settings
from engine.deadlines.planner import Planner
from engine.errors import Conflict, EngineError, ValidationFailed
from engine.identity import authz
from engine.identity.colleagues import colleagues
from engine.identity.org import DepartmentDirectory
from engine.repository.registry import Registry
from engine.runtime import forms, messages, operations, projection, steps
from engine.runtime.extensions import Extensions, HelperContext
from engine.runtime.helpers import calendar_helpers
from engine.runtime.notices import WorkNotices
from engine.runtime.script_pool import Limits
from engine.runtime.serialization import FORMAT_VERSION, ParsedSpec, dump_state, load_state, next_timer
from engine.runtime.versions import VersionCache
from engine.storage.db import retry_on_disconnect
from engine.storage.models import AuditRecord, HumanTask, ProcessInstance, ProcessVersion, User, utcnow

log = logging.getLogger("zjtx.runtime")
T = TypeVar("T")
C = TypeVar("C")
W = TypeVar("W")

RUNNING, COMPLETED, ERROR = "running", "completed", "error"
# An instance whose timer the scheduler is working on is not taken by another for this long.
TIMER_LEASE = timedelta(seconds=120)
# Rounds of "run an operation, go on with the step" one action may take.
MAX_ROUNDS = 20


@dataclass
class Computed:
    """A step computed outside any write lock, to be written with the revision check."""
    who: authz.Actor
    instance: ProcessInstance | None
    workflow: Any  # BpmnWorkflow
    pending: steps.PendingOperation | None
    rows: list = field(default_factory=list)
    task: HumanTask | None = None
    cleaned: dict = field(default_factory=dict)
    now: datetime | None = None
    waiting_before: set = field(default_factory=set)
    supervision: bool = False
    extra: dict = field(default_factory=dict)


def translated(work: Callable[[], object]):
    """Run ``work``; concurrency failures become Conflict (nothing was written)."""
    try:
        return work()
    except StaleDataError:
        raise Conflict("该事项已被他人同时办理，本次提交未保存，请刷新后重试") from None
    except OperationalError as exc:
        if "locked" in str(exc).lower() or "could not serialize" in str(exc).lower():
            raise Conflict("数据库繁忙，本次提交未保存，请稍后重试") from None
        raise


def element_name(spec: ParsedSpec, bpmn_id: str) -> str | None:
    """The name of a BPMN element of a version, from its parsed spec (top process or sub-processes)."""
    for process in (getattr(spec, "spec", None), *(getattr(spec, "subprocess_specs", None) or {}).values()):
        for ts in (getattr(process, "task_specs", None) or {}).values():
            if getattr(ts, "bpmn_id", None) == bpmn_id:
                return ts.bpmn_name
    return None


class Stepper:
    def __init__(self, db, registry: Registry, script_engine_factory: Callable, settings: Settings,
                 clock: Callable[[], datetime] = utcnow, extensions: Extensions | None = None):
        self.db = db
        self.registry = registry
        self.script_engine_factory = script_engine_factory
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.clock = clock
        self.extensions = extensions or Extensions()
        self.incidents: Any = None  # set by bootstrap (engine.monitoring.incidents.IncidentService)
        self.notices: WorkNotices | None = None  # set by bootstrap: who is told of new tasks
        self.limits = Limits(settings.script_cpu_seconds, settings.script_wall_seconds, settings.script_memory_mb,
                             idle_workers=settings.script_workers)
        self.budget = steps.StepBudget(settings.step_max_tasks, settings.step_max_seconds)
        # For reading instances and evaluating decisions outside a step: one engine is enough.
        self.script_engine = script_engine_factory(limits=self.limits)
        self.versions = VersionCache()

    def parsed_spec(self, version: ProcessVersion) -> ParsedSpec:
        return self.versions.parsed_spec(version)

    def planner(self, session: Session) -> Planner:
        return Planner(session, self.tz, self.settings.warn_before_working_days,
                       self.settings.supervise_after_working_days, self.settings.warn_hour)

    def step_script_engine(self, planner: Planner, version: ProcessVersion | None = None):
        """A script engine whose pure helpers (the calendar's, and those the procedures register) read
        through this transaction; ``setting`` reads ``version``'s process properties. Effects are not
        among them: service tasks name operations."""
        context = HelperContext(session=planner.session, calendar=planner.calendar, now=self.clock, tz=self.tz,
                                services=self.extensions.services,
                                properties=self.versions.properties_of(version) if version is not None else {})
        helpers = {**calendar_helpers(context), **self.extensions.helpers(context)}
        return self.script_engine_factory(helpers, limits=self.limits, services=_service_result)

    def form_context(self, session: Session, directory: DepartmentDirectory,
                     department_id: int | None = None) -> forms.FormContext:
        def resolve(name):
            ref = directory.find(name)
            return ref.name if ref else None

        def item_exists(key):
            return session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == key)) is not None

        def enterprise_exists(code):
            from engine.storage.models import Enterprise

            return session.scalar(select(Enterprise.id).where(Enterprise.uscc == code.strip().upper())) is not None

        def colleague_exists(username):
            return department_id is not None and username in colleagues(session, department_id)

        return forms.FormContext(resolve, item_exists, self.clock().astimezone(self.tz).date(), enterprise_exists,
                                 colleague_exists)

    def clean(self, session, directory, version: ProcessVersion, form_ref: str | None, data,
              department_id: int | None = None, task_data: dict | None = None) -> dict:
        """The answer checked against the step's form; ``task_data`` fills the fields whose choices come from
        the item (``x-choices-from``), ``department_id`` is the task's (for its 承办人)."""
        if form_ref is None:
            if data:
                raise ValidationFailed({"表单": "该步骤没有表单，不接受提交数据"})
            return {}
        schema = forms.bind_choices(self.versions.forms_of(version)[form_ref], task_data or {})
        return forms.validate(schema, data, self.form_context(session, directory, department_id))

    # -- transactions ----------------------------------------------------------------------
    def run_write(self, work: Callable[[Session], T]) -> T:
        """Run one unit of work in a write transaction; concurrency failures become Conflict."""
        def attempt():
            with self.db.write() as session:
                return work(session)
        return translated(lambda: retry_on_disconnect(attempt))

    def run_read(self, work: Callable[[Session], T]) -> T:
        """Compute in a read transaction: no write lock is held while diagram code runs."""
        def attempt():
            with self.db.read() as session:
                return work(session)
        return retry_on_disconnect(attempt)

    def unit(self, compute: Callable[[Session], C | None], write: Callable[[Session, C], W]) -> tuple[C, W]:
        """A step: ``compute(session)`` in a read transaction, then ``write(session, computed)`` in a write
        transaction with the revision checked, on one connection. Returns (computed, written); (None, None)
        when compute found nothing to do."""
        sent: list[int] = []

        def attempt() -> tuple:
            with self.db.unit() as unit:
                with unit.reading() as session:
                    computed = compute(session)
                if computed is None:
                    return None, None
                with unit.writing() as session:
                    written = computed, write(session, computed)
                    sent[:] = messages.sent_by(session)
                    return written
        result = translated(lambda: retry_on_disconnect(attempt))
        self.deliver_sent(sent)
        return result

    def deliver_sent(self, instance_ids: list[int]) -> None:
        """Go on at once with the instances a committed step sent messages to (engine.runtime.messages); what
        fails here is left to the scheduler, which finds them due."""
        for instance_id in instance_ids:
            try:
                self.go_on(instance_id, authz.SYSTEM)
            except Exception:
                log.exception("instance %s: delivering its messages failed; the scheduler tries again", instance_id)

    # -- a step's parts --------------------------------------------------------------------
    def run_steps(self, workflow, first=None) -> steps.PendingOperation | None:
        """Run a step (engine.runtime.steps.run) within this service's budget."""
        return steps.run(workflow, self.budget, first)

    @staticmethod
    def state_values(instance: ProcessInstance, workflow, now: datetime, directory: DepartmentDirectory) -> dict:
        """The instance columns that follow from its workflow state."""
        data = projection.current_data(workflow)
        lead = data.get("lead_department")
        ref = directory.find(lead) if isinstance(lead, str) else None
        done = workflow.is_completed()
        return {"next_timer_at": None if done else next_timer(workflow), "state_json": dump_state(workflow),
                "serializer_version": FORMAT_VERSION, "updated_at": now,
                "item_status": data.get("item_status", instance.item_status),
                "lead_department_id": ref.id if ref else instance.lead_department_id,
                "status": COMPLETED if done else instance.status, "completed_at": now if done else instance.completed_at}

    def save(self, instance: ProcessInstance, workflow, now: datetime, directory: DepartmentDirectory) -> None:
        for key, value in self.state_values(instance, workflow, now, directory).items():
            setattr(instance, key, value)

    def run_operation(self, session: Session, instance: ProcessInstance, pending: steps.PendingOperation,
                      who: authz.Actor, now: datetime, audits: projection.AuditBatch) -> None:
        """Run the operation a service task asks for, in the transaction that saves the step; keep its
        result with the task for the step that goes on (engine.runtime.operations)."""
        context = operations.OperationContext(session=session, actor=who, instance_id=instance.id, now=now,
                                              services=self.extensions.services)
        trusted = bool(getattr(instance.version, "trusted", False))
        result = operations.run(pending.name, pending.element, trusted, context, pending.params,
                                pending.element_name)
        result = json.loads(json.dumps(result, default=str))
        pending.task.internal_data[steps.OPERATION_KEY] = {"name": pending.name, "result": result}
        audits.add(instance_id=instance.id, action="operation", actor=who.username, at=now,
                   task_name=pending.element_name, data={"operation": pending.name, "element": pending.element})

    def announce(self, session: Session, instance: ProcessInstance, workflow, rows: list[HumanTask],
                 known: list[HumanTask], who: authz.Actor, now: datetime, planner: Planner,
                 cause: HumanTask | None = None, cause_data: dict | None = None) -> None:
        """Tell whoever can act on the tasks this step created (``rows`` not among ``known``), in the
        step's transaction (engine.runtime.notices); ``cause`` is the task just completed."""
        seen = {row.id for row in known}
        created = [row for row in rows if row.id not in seen and row.status in projection.OPEN_STATUSES]
        if self.notices is None or not created:
            return
        by = next((r.display_name for r in [session.get(User, who.user_id)] if r), who.username) \
            if who.user_id is not None else "系统"
        if cause is not None:
            by = f"{DepartmentDirectory.of(session).name_of(cause.department_id)}（{by}）"
        self.notices.task_created(session, instance, self.versions.process_key(instance.version), created, rows,
                                  workflow, cause, cause_data or {}, (who.user_id, by), now,
                                  planner.calendar.working_days_between)

    def completed(self, session: Session, instance: ProcessInstance, workflow, actor: str, now: datetime) -> None:
        """An instance ended: record it, and let its procedure apply its outcome (same transaction)."""
        session.add(AuditRecord(instance_id=instance.id, action="instance_completed", actor=actor, at=now))
        handler = self.extensions.completion_handler(instance.version.definition.key)
        if handler is not None:
            handler(session, instance, projection.current_data(workflow), now)

    # -- instances no user is acting on -----------------------------------------------------
    def go_on(self, instance_id: int, who: authz.Actor, cause: tuple[HumanTask, dict] | None = None) -> bool:
        """Go on with an instance after an operation ran, round by round. A failure now cannot undo
        the rounds already saved: the instance waits for the scheduler's retries, then becomes an
        incident. Returns True when the instance moved on. ``cause``: the task (and its answer) whose
        completion reached the operation; the tasks the rounds create are announced as following from it."""
        moved = False
        for _ in range(MAX_ROUNDS):
            try:
                outcome = self.advance(instance_id, who, refresh_timers=False, cause=cause)
            except Conflict:
                return moved  # another node (the scheduler) went on with it
            except EngineError as exc:
                log.warning("instance %s: step after an operation failed: %s", instance_id, exc)
                self.instance_failed(instance_id, exc)
                return moved
            moved = moved or outcome is not None
            if outcome != "paused":
                return moved
        return moved

    def advance(self, instance_id: int, who: authz.Actor, refresh_timers: bool,
                cause: tuple[HumanTask, dict] | None = None) -> str | None:
        """One round for an instance no user is acting on (a timer fired, an operation ran): compute,
        then write with the revision check. Returns None (nothing to do), "done" or "paused" (an
        operation ran; the step goes on in the next round)."""
        def compute(session: Session) -> Computed | None:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None or instance.status != RUNNING:
                return None
            version = instance.version
            rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)))
            workflow = load_state(instance.state_json, instance.serializer_version, self.parsed_spec(version),
                                  self.step_script_engine(self.planner(session), version))
            before = {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)}
            if refresh_timers:
                workflow.refresh_timers()
            pending, caught, due = messages.run_with_messages(session, instance_id, workflow, self.run_steps)
            self.versions.process_key(version)
            return Computed(who=who, instance=instance, workflow=workflow, pending=pending, rows=rows,
                            waiting_before=before, extra={"messages": caught, "messages_due": due})

        return self.unit(compute, lambda session, computed: self._write_round(session, computed, refresh_timers,
                                                                              cause))[1]

    def _write_round(self, session: Session, computed: Computed, refresh_timers: bool,
                     cause: tuple[HumanTask, dict] | None = None) -> str:
        instance, workflow, who, now = computed.instance, computed.workflow, computed.who, self.clock()
        directory = DepartmentDirectory.of(session)
        audits = projection.AuditBatch()
        if computed.pending is not None:
            self.run_operation(session, instance, computed.pending, who, now, audits)
        values = self.state_values(instance, workflow, now, directory)
        due = computed.pending is not None or computed.extra.get("messages_due")
        values["next_timer_at"] = now if due else values["next_timer_at"]
        projection.write_instance_state(session, instance, values)
        messages.mark_delivered(session, audits, instance.id, computed.extra.get("messages") or [], now)
        if getattr(instance, "failed_attempts", 0):  # it succeeded after failing: start counting afresh
            session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                            .values(failed_attempts=0, last_error=None)
                            .execution_options(synchronize_session=False))
        fired = computed.waiting_before - {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)}
        if refresh_timers:
            audits.add(instance_id=instance.id, action="timer_fired", actor="system", at=now,
                       data={"waiting_before": len(computed.waiting_before), "resolved": len(fired)})
        planner = self.planner(session)
        rows = projection.sync(session, instance, workflow, directory, now, who.username,
                               planner=planner, rows=computed.rows, audits=audits, write=True)
        audits.write(session)
        self.announce(session, instance, workflow, rows, computed.rows, who, now, planner,
                      *(cause if cause is not None else ()))
        if instance.status == COMPLETED:
            session.add(instance)  # back from the read transaction for the process's outcome
            self.completed(session, instance, workflow, who.username, now)
            session.flush()
        return "paused" if computed.pending is not None else "done"

    def instance_failed(self, instance_id: int, exc: Exception) -> None:
        """Record a failed round of an instance: it backs off, and after its attempts becomes an incident
        the administrators are told about (engine.monitoring.incidents)."""
        message = exc.message if isinstance(exc, EngineError) else f"流程引擎内部错误（{type(exc).__name__}）"
        detail = getattr(exc, "detail", None) or (repr(exc) if not isinstance(exc, EngineError) else None)
        if not isinstance(exc, EngineError):
            log.exception("instance %s failed", instance_id)
        element = exc.details.get("task") if isinstance(exc, EngineError) else None

        def work(session: Session) -> None:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                return
            name = element_name(self.parsed_spec(instance.version), element) if element else None
            if self.incidents is not None:
                self.incidents.instance_failed(session, instance, element, name, message, detail,
                                               max_attempts=self.settings.step_max_attempts)
            else:  # no incident service wired (a bare service): back off all the same
                instance.next_timer_at = self.clock() + TIMER_LEASE
        try:
            self.run_write(work)
        except Exception:
            log.exception("could not record the failure of instance %s", instance_id)


def _service_result(task, _name, _params) -> str:
    return steps.operation_result(task)
