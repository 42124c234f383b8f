"""The service layer: start instances, complete tasks, list tasks, show instances.

Every state change runs in one transaction: the instance state (with its optimistic revision
check), the task projection rows and the audit records commit together or not at all.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from engine.config import Settings
from engine.deadlines.planner import Planner
from engine.errors import (
    Conflict,
    EngineError,
    InstanceNotFound,
    TaskNotFound,
    TaskNotOpen,
    ValidationFailed,
)
from engine.identity import authz
from engine.identity.org import DepartmentDirectory
from engine.repository.registry import Registry, properties_of
from engine.runtime import forms, operations, projection, steps
from engine.runtime.script_pool import Limits
from engine.runtime.serialization import FORMAT_VERSION, ParsedSpec, SpecCache, dump_state, load_state, new_workflow, next_timer
from engine.storage.db import retry_on_disconnect
from engine.storage.models import (
    AuditRecord,
    Department,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    User,
    utcnow,
)

log = logging.getLogger("zjtx.runtime")

RUNNING, COMPLETED, ERROR = "running", "completed", "error"
SUPERVISION_FORM = Path(__file__).resolve().parents[2] / "processes" / "forms" / "supervision.schema.json"


# Statements on the hot path are built once: constructing one costs more than running it on SQLite.
# A task with all its instance's task rows, the instance and its version; the instance and version
# columns come with the task's own row only (the state is not sent and decompressed once per row).
_TASK_WITH_INSTANCE = (
    select(HumanTask, ProcessInstance, ProcessVersion)
    .outerjoin(ProcessInstance, and_(HumanTask.instance_id == ProcessInstance.id, HumanTask.id == bindparam("task_id")))
    .outerjoin(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
    .where(HumanTask.instance_id == select(HumanTask.instance_id).where(HumanTask.id == bindparam("task_id"))
           .scalar_subquery()))


@lru_cache(maxsize=1)
def supervision_form() -> dict:
    return json.loads(SUPERVISION_FORM.read_text(encoding="utf-8"))


_workflow_error = steps.workflow_error
# An instance whose timer the scheduler is working on is not taken by another for this long.
TIMER_LEASE = timedelta(seconds=120)
# Rounds of "run an operation, go on with the step" one action may take.
MAX_ROUNDS = 20
# Helpers' arguments are bounded: they run in the engine, outside the script's limits.
MAX_DAYS = 3660


def _days(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, float, str)):
        raise ValueError(f"天数应为整数，收到 {n!r}")
    value = int(n)
    if not 0 < value <= MAX_DAYS:
        raise ValueError(f"天数应在 1 到 {MAX_DAYS} 之间，收到 {value}")
    return value


def _iso_day(value) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"日期应为 YYYY-MM-DD，收到 {str(value)[:40]!r}") from None


@dataclass
class _Computed:
    """A step computed outside any write lock, to be written with the revision check."""
    who: authz.Actor
    instance: ProcessInstance | None
    workflow: object
    pending: steps.PendingOperation | None
    rows: list = field(default_factory=list)
    task: HumanTask | None = None
    cleaned: dict = field(default_factory=dict)
    now: datetime | None = None
    waiting_before: set = field(default_factory=set)
    supervision: bool = False
    extra: dict = field(default_factory=dict)


def _translated(work: Callable[[], object]):
    """Run ``work``; concurrency failures become Conflict (nothing was written)."""
    try:
        return work()
    except StaleDataError:
        raise Conflict("该事项已被他人同时办理，本次提交未保存，请刷新后重试") from None
    except OperationalError as exc:
        if "locked" in str(exc).lower() or "could not serialize" in str(exc).lower():
            raise Conflict("数据库繁忙，本次提交未保存，请稍后重试") from None
        raise


def _element_name(spec: ParsedSpec, bpmn_id: str) -> str | None:
    """The name of a BPMN element of a version, from its parsed spec (top process or sub-processes)."""
    for process in (getattr(spec, "spec", None), *(getattr(spec, "subprocess_specs", None) or {}).values()):
        for ts in (getattr(process, "task_specs", None) or {}).values():
            if getattr(ts, "bpmn_id", None) == bpmn_id:
                return ts.bpmn_name
    return None


def _text(value, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


class WorkflowService:
    def __init__(self, db, registry: Registry, script_engine_factory: Callable, settings: Settings,
                 clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.registry = registry
        self.script_engine_factory = script_engine_factory
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.clock = clock
        # process key → callable(session, instance, final data, now): outcomes a process applies on completion
        self.completion_handlers: dict[str, Callable] = {}
        self.circulars = None  # set by bootstrap (engine.policy.circulars.service.CircularService)
        self.incidents = None  # set by bootstrap (engine.monitoring.incidents.IncidentService)
        self.limits = Limits(settings.script_cpu_seconds, settings.script_wall_seconds, settings.script_memory_mb,
                             idle_workers=settings.script_workers)
        self.budget = steps.StepBudget(settings.step_max_tasks, settings.step_max_seconds)
        # For reading instances and evaluating decisions outside a step: one engine is enough.
        self.script_engine = script_engine_factory(limits=self.limits)
        # Versions never change: their spec (restored once) and forms are kept by (id, content hash).
        self._specs = SpecCache()
        self._forms: dict[tuple[int, str], dict] = {}
        self._keys: dict[tuple[int, str], str] = {}

    def parsed_spec(self, version: ProcessVersion) -> ParsedSpec:
        return self._specs.get((version.id, version.content_hash), lambda: version.spec_json)

    def forms_of(self, version: ProcessVersion) -> dict:
        key = (version.id, version.content_hash)
        found = self._forms.get(key)
        if found is None:
            if len(self._forms) >= 256:
                self._forms.clear()
            found = self._forms[key] = version.forms or {}
        return found

    def _planner(self, session: Session) -> Planner:
        return Planner(session, self.tz, self.settings.warn_before_working_days,
                       self.settings.supervise_after_working_days, self.settings.warn_hour)

    def _script_engine(self, planner: Planner, actor: str | None = None):
        """A script engine whose pure helpers (working days, eligibility, measures) read through this
        transaction. Effects are not among them: service tasks name operations (engine.runtime.operations)."""
        tz, clock = self.tz, self.clock

        def today() -> str:
            return clock().astimezone(tz).date().isoformat()

        def add_working_days(start: str, n: int) -> str:
            return planner.calendar.add_working_days(_iso_day(start), _days(n)).isoformat()

        def add_natural_days(start: str, n: int) -> str:
            return planner.calendar.add_natural_days(_iso_day(start), _days(n)).isoformat()

        def is_workday(day: str) -> bool:
            return planner.calendar.is_workday(_iso_day(day))

        def end_of_working_days(n: int) -> str:
            """The deadline moment (ISO, with zone) of n working days counted from tomorrow."""
            day = planner.calendar.add_working_days(clock().astimezone(tz).date(), _days(n))
            return planner.calendar.end_of_day(day, tz).astimezone(tz).isoformat()

        def end_of_day(day: str) -> str:
            """The deadline moment (ISO, with zone) at the end of an ISO date."""
            return planner.calendar.end_of_day(_iso_day(day), tz).astimezone(tz).isoformat()

        def assess_eligibility(code: str) -> dict:
            from engine.policy.pool.admission import assess

            return assess(planner.session, self.decisions(planner.session), str(code)[:64],
                          clock().astimezone(tz).date())

        def previous_period(kind: str) -> list[str]:
            from engine.policy.circulars.service import previous_month, previous_quarter

            local = clock().astimezone(tz).date()
            start, end = (previous_quarter if kind == "quarter" else previous_month)(local)
            return [start.isoformat(), end.isoformat()]

        def measure_info(no: int) -> dict:
            from engine.policy.measures.reports import measure_info as info

            return info(planner.session, _days(no) if str(no).strip().isdigit() else 0)

        return self.script_engine_factory({"measure_info": measure_info, "previous_period": previous_period,
                                           "today": today, "add_working_days": add_working_days,
                                           "add_natural_days": add_natural_days, "is_workday": is_workday,
                                           "end_of_working_days": end_of_working_days, "end_of_day": end_of_day,
                                           "assess_eligibility": assess_eligibility},
                                          limits=self.limits, services=self._service_result)

    @staticmethod
    def _service_result(task, _name, _params) -> str:
        return steps.operation_result(task)

    def warm(self) -> None:
        """Start the script workers and build the working calendar before the first request, so the
        first step after a restart costs what every other does."""
        from engine.runtime.script_pool import pool_for

        pool_for(self.limits).warm()
        try:
            with self.db.read() as session:
                calendar = self._planner(session).calendar
                year = self.clock().astimezone(self.tz).year
                for y in range(year - 1, year + 3):
                    calendar.is_confirmed(y)
        except Exception:  # a database not created yet (`zjtx init-db` comes later): built on first use
            log.warning("working calendar not built at boot", exc_info=True)

    def categories(self) -> list[str]:
        """The problem categories offered by the deployed start forms (the field a start form names as
        ``x-category``), in the forms' order: the inbox filter follows a designer's change of the form.
        One query over the processes' latest versions; the forms are cached per version."""
        newest = (select(ProcessVersion.definition_id, func.max(ProcessVersion.version).label("v"))
                  .group_by(ProcessVersion.definition_id).subquery())
        out: list[str] = []
        with self.db.read() as session:
            for version in session.scalars(select(ProcessVersion).join(
                    newest, and_(ProcessVersion.definition_id == newest.c.definition_id,
                                 ProcessVersion.version == newest.c.v)).order_by(ProcessVersion.definition_id)):
                for form in self.forms_of(version).values():
                    field = form.get("x-category")
                    values = ((form.get("properties") or {}).get(field) or {}).get("enum") if field else None
                    out.extend(v for v in values or () if isinstance(v, str) and v not in out)
        return out

    def decisions(self, session: Session | None = None):
        """The deployed decision tables (parsed once per content)."""
        import hashlib

        from engine.policy.pool.eligibility import Decisions

        if session is None:
            with self.db.read() as reading:
                sources = self.registry.latest_decision_sources(reading)
        else:
            sources = self.registry.latest_decision_sources(session)
        key = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(sources.items()))).hexdigest()
        cached = getattr(self, "_decision_tables", None)
        if cached is None or cached[0] != key:
            self._decision_tables = (key, Decisions(self.settings.processes_dir, self.script_engine, sources))
        return self._decision_tables[1]

    # -- helpers ---------------------------------------------------------------------------
    def _form_context(self, session: Session, directory: DepartmentDirectory) -> forms.FormContext:
        def resolve(name):
            ref = directory.find(name)
            return ref.name if ref else None

        def item_exists(key):
            return session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == key)) is not None

        def enterprise_exists(code):
            from engine.storage.models import Enterprise

            return session.scalar(select(Enterprise.id).where(Enterprise.uscc == code.strip().upper())) is not None

        return forms.FormContext(resolve, item_exists, self.clock().astimezone(self.tz).date(), enterprise_exists)

    def _clean(self, session, directory, version: ProcessVersion, form_ref: str | None, data) -> dict:
        if form_ref is None:
            if data:
                raise ValidationFailed({"表单": "该步骤没有表单，不接受提交数据"})
            return {}
        return forms.validate(self.forms_of(version)[form_ref], data, self._form_context(session, directory))

    def _run(self, work: Callable[[Session], dict]) -> dict:
        """Run one unit of work; translate concurrency failures into Conflict."""
        def attempt() -> dict:
            with self.db.write() as session:
                return work(session)
        return _translated(lambda: retry_on_disconnect(attempt))

    def _unit(self, compute: Callable[[Session], object], write: Callable[[Session, object], object]):
        """A step: ``compute(session)`` in a read transaction (diagram code runs, no write lock held), then
        ``write(session, computed)`` in a write transaction with the revision checked, on one connection.
        Returns (computed, written); (None, None) when compute found nothing to do."""
        def attempt():
            with self.db.unit() as unit:
                with unit.reading() as session:
                    computed = compute(session)
                if computed is None:
                    return None, None
                with unit.writing() as session:
                    return computed, write(session, computed)
        return _translated(lambda: retry_on_disconnect(attempt))

    def _steps(self, workflow, first=None) -> steps.PendingOperation | None:
        """Run a step (engine.runtime.steps.run) within this service's budget."""
        return steps.run(workflow, self.budget, first)

    @staticmethod
    def _state_values(instance: ProcessInstance, workflow, now: datetime, directory: DepartmentDirectory) -> dict:
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

    def _save(self, instance: ProcessInstance, workflow, now: datetime) -> None:
        from sqlalchemy.orm import object_session

        for key, value in self._state_values(instance, workflow, now,
                                             DepartmentDirectory.of(object_session(instance))).items():
            setattr(instance, key, value)

    # -- commands --------------------------------------------------------------------------
    def _read(self, work: Callable[[Session], object]):
        """Compute in a read transaction: no write lock is held while diagram code runs."""
        def attempt():
            with self.db.read() as session:
                return work(session)
        return retry_on_disconnect(attempt)

    def start(self, process_key: str, data: dict | None, actor: str | None = None,
              business_key: str | None = None) -> dict:
        """Start the latest version of ``process_key`` with ``data`` (checked against its start form)."""
        def write(session: Session, computed: _Computed) -> dict:
            instance, rows = self._write_start(session, computed, business_key)
            return self._summary_from_rows(session, instance, rows, computed.who)
        computed, summary = self._unit(
            lambda session: self._compute_start(session, process_key, data, actor, business_key), write)
        if computed.pending is not None and self._continue(summary["id"], computed.who):
            summary = self._read(lambda session: self._instance_summary(
                session, session.get(ProcessInstance, summary["id"])))
        return summary

    def _compute_start(self, session: Session, process_key: str, data: dict | None, actor,
                       business_key: str | None) -> _Computed:
        who = authz.actor_for(session, actor)
        version = self.registry.latest(session, process_key)
        planner = self._planner(session)
        workflow = new_workflow(self.parsed_spec(version), self._script_engine(planner, who.username))
        props = next((properties_of(ts) for ts in workflow.spec.task_specs.values()
                      if isinstance(ts, StartEvent)), {})
        authz.check_can_start(who, {r.strip() for r in props.get("roles", "").split(",") if r.strip()},
                              version.definition.name)
        directory = DepartmentDirectory.of(session)
        cleaned = self._clean(session, directory, version, props.get("formJsonSchemaFilename"), data or {})
        if business_key is not None and session.scalar(
                select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)):
            raise ValidationFailed({"business_key": f"编号「{business_key}」已被使用"})
        title = self._title(version, props, cleaned)
        start_form = self.forms_of(version).get(props.get("formJsonSchemaFilename") or "", {})
        workflow.task_tree.data.update(cleaned)
        pending = self._steps(workflow)
        self._process_key(version)
        return _Computed(who=who, instance=None, workflow=workflow, pending=pending, cleaned=cleaned,
                         extra={"version": version, "title": title, "start_form": start_form})

    def _write_start(self, session: Session, computed: _Computed,
                     business_key: str | None) -> tuple[ProcessInstance, list[HumanTask]]:
        version, workflow, who, cleaned = computed.extra["version"], computed.workflow, computed.who, computed.cleaned
        start_form = computed.extra["start_form"]
        if business_key is not None and session.scalar(
                select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)):
            raise ValidationFailed({"business_key": f"编号「{business_key}」已被使用"})
        now = self.clock()
        planner = self._planner(session)
        directory = DepartmentDirectory.of(session)
        instance = ProcessInstance(
            version=version, business_key=business_key or f"tmp-{uuid4()}", title=computed.extra["title"],
            subject=_text(cleaned.get(start_form.get("x-subject") or ""), 200),
            category=_text(cleaned.get(start_form.get("x-category") or ""), 32),
            status=RUNNING, serializer_version=FORMAT_VERSION,
            started_by=who.username, started_at=now, updated_at=now)
        session.add(instance)
        self._save(instance, workflow, now)  # the first INSERT carries the state
        session.flush()
        if business_key is None:
            instance.business_key = f"ZJTX-{now.astimezone(self.tz):%Y}-{instance.id:05d}"
        audits = projection.AuditBatch()
        audits.add(instance_id=instance.id, action="start", actor=who.username, at=now, data=cleaned)
        if computed.pending is not None:
            self._run_operation(session, instance, computed.pending, who, now, audits)
            self._save(instance, workflow, now)
            instance.next_timer_at = now  # the step goes on after this transaction (or at the next tick)
        rows = projection.sync(session, instance, workflow, directory, now, who.username, planner=planner,
                               rows=[], audits=audits)
        session.flush()
        audits.write(session)
        if instance.status == COMPLETED:
            self._completed(session, instance, workflow, who.username, now)
            session.flush()
        return instance, rows

    def _run_operation(self, session: Session, instance: ProcessInstance, pending: steps.PendingOperation,
                       who: authz.Actor, now: datetime, audits: projection.AuditBatch) -> None:
        """Run the operation a service task asks for, in the transaction that saves the step; keep its
        result with the task for the step that goes on (engine.runtime.operations)."""
        context = operations.OperationContext(session=session, actor=who, instance_id=instance.id, now=now,
                                              circulars=self.circulars)
        trusted = bool(getattr(instance.version, "trusted", False))
        result = operations.run(pending.name, pending.element, trusted, context, pending.params,
                                pending.element_name)
        result = json.loads(json.dumps(result, default=str))
        pending.task.internal_data[steps.OPERATION_KEY] = {"name": pending.name, "result": result}
        audits.add(instance_id=instance.id, action="operation", actor=who.username, at=now,
                   task_name=pending.element_name, data={"operation": pending.name, "element": pending.element})

    def _continue(self, instance_id: int, who: authz.Actor) -> bool:
        """Go on with an instance after an operation ran, round by round. A failure now cannot undo
        the rounds already saved: the instance waits for the scheduler's retries, then becomes an
        incident. Returns True when the instance moved on."""
        moved = False
        for _ in range(MAX_ROUNDS):
            try:
                outcome = self._advance(instance_id, who, refresh_timers=False)
            except Conflict:
                return moved  # another node (the scheduler) went on with it
            except EngineError as exc:
                log.warning("instance %s: step after an operation failed: %s", instance_id, exc)
                self._instance_failed(instance_id, exc)
                return moved
            moved = moved or outcome is not None
            if outcome != "paused":
                return moved
        return moved

    def _summary_from_rows(self, session: Session, instance: ProcessInstance, rows: list[HumanTask],
                           who: authz.Actor) -> dict:
        directory = DepartmentDirectory.of(session)
        names = {who.user_id: who.username} if who.user_id is not None else {}
        shown = [r for r in rows if r.status in projection.OPEN_STATUSES]
        missing = {r.assignee_id for r in shown if r.assignee_id is not None and r.assignee_id not in names}
        if missing:
            names.update(session.execute(select(User.id, User.username).where(User.id.in_(missing))).all())
        process = self._process_key(instance.version)
        open_tasks = sorted((self._task_dict(r, instance.business_key, instance.title, process, names.get(r.assignee_id),
                                             None, directory) for r in shown), key=lambda d: (d["created_at"], d["id"]))
        return self._instance_summary(session, instance, process, open_tasks)

    def _title(self, version: ProcessVersion, props: dict, data: dict) -> str:
        form = self.forms_of(version).get(props.get("formJsonSchemaFilename") or "", {})
        template = form.get("x-title")
        if template:
            try:
                return template.format(**{k: ("" if v is None else v) for k, v in data.items()})[:200]
            except (KeyError, IndexError, ValueError):
                pass
        return version.definition.name

    def complete(self, task_id: int, data: dict | None, actor: str | None) -> dict:
        """Complete an open task with ``data`` checked against the task's form.

        The step is computed in a read transaction (diagram code runs in the sandbox's workers, no
        write lock held), then written in one transaction with the instance's revision checked: if
        another user changed the instance meanwhile, nothing is written and Conflict is raised."""
        def write(session: Session, computed: _Computed) -> dict:
            if computed.supervision:
                task = session.get(HumanTask, task_id, populate_existing=True)
                if task is None or task.status not in projection.OPEN_STATUSES:
                    raise Conflict(f"任务 {task_id} 已被他人办理，请刷新后重试", task_id=task_id)
                return self._close_supervision(session, computed.who, task, DepartmentDirectory.of(session),
                                               data or {})
            return self._write_completion(session, computed)
        computed, result = self._unit(lambda session: self._compute_completion(session, task_id, data, actor), write)
        if computed.pending is not None and self._continue(computed.instance.id, computed.who):
            def refreshed(session: Session) -> dict:
                instance = session.get(ProcessInstance, computed.instance.id)
                return {"task": result["task"], "instance": self._instance_summary(session, instance)}
            result = self._read(refreshed)
        return result

    def _compute_completion(self, session: Session, task_id: int, data: dict | None, actor) -> _Computed:
        who = authz.actor_for(session, actor)
        # The task with all its instance's task rows, the instance and its version, in one query
        # (the relationships then find them loaded).
        found = session.execute(_TASK_WITH_INSTANCE, {"task_id": task_id}).all()
        task = next((row[0] for row in found if row[0].id == task_id), None)
        if task is None:
            raise TaskNotFound(task_id)
        siblings = [row[0] for row in found]
        authz.check_can_act(who, task)
        if task.status not in projection.OPEN_STATUSES:
            raise TaskNotOpen(f"任务 {task.id}「{task.name}」已{projection.STATUS_LABELS[task.status]}，不能再次办理",
                              task_id=task.id)
        if task.kind == "supervision":
            return _Computed(who=who, instance=None, workflow=None, pending=None, task=task, supervision=True)
        directory = DepartmentDirectory.of(session)
        instance = task.instance
        version = instance.version
        cleaned = self._clean(session, directory, version, task.form, data or {})
        planner = self._planner(session)
        workflow = load_state(instance.state_json, instance.serializer_version, self.parsed_spec(version),
                              self._script_engine(planner, who.username))
        spiff_task = workflow.get_task_from_id(UUID(task.spiff_task_id))
        if spiff_task is None or spiff_task.state != TaskState.READY:
            raise Conflict(f"任务 {task.id} 当前不可办理，请刷新后重试", task_id=task.id)
        now = self.clock()
        self._check_deadline_rules(task, properties_of(spiff_task.task_spec), cleaned, now)
        spiff_task.data.update(cleaned)
        pending = self._steps(workflow, first=spiff_task)
        self._process_key(version)
        return _Computed(who=who, instance=instance, workflow=workflow, pending=pending, rows=siblings, task=task,
                         cleaned=cleaned, now=now)

    def _write_completion(self, session: Session, computed: _Computed) -> dict:
        who, instance, workflow, task, now = computed.who, computed.instance, computed.workflow, computed.task, \
            computed.now
        directory = DepartmentDirectory.of(session)
        planner = self._planner(session)
        audits = projection.AuditBatch()
        audits.add(instance_id=instance.id, task_id=task.id, action="complete", actor=who.username, at=now,
                   task_name=task.name, data=computed.cleaned)
        if computed.pending is not None:
            self._run_operation(session, instance, computed.pending, who, now, audits)
        values = self._state_values(instance, workflow, now, directory)
        if computed.pending is not None:
            values["next_timer_at"] = now  # the step goes on after this transaction (or at the next tick)
        # The step's writes as Core statements (the ORM's unit of work would cost more than they do):
        # the instance first, so the revision check fails before any task row is touched, then the
        # task rows, then the step's audit records.
        projection.write_instance_state(session, instance, values)
        rows = projection.sync(session, instance, workflow, directory, now, who.username, completed=task,
                               completed_by_id=who.user_id, planner=planner, rows=computed.rows, audits=audits,
                               write=True)
        audits.write(session)
        if instance.status == COMPLETED:
            session.add(instance)  # back from the read transaction for the process's outcome (no statement)
            self._completed(session, instance, workflow, who.username, now)
            session.flush()
        return self._completion_result(session, directory, instance, task, who, rows)

    def _process_key(self, version: ProcessVersion) -> str:
        key = (version.id, version.content_hash)
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = version.definition.key
        return found

    def _completion_result(self, session: Session, directory: DepartmentDirectory, instance: ProcessInstance,
                           task: HumanTask, who: authz.Actor, rows: list[HumanTask] | None = None) -> dict:
        """The completed task and the instance with its open tasks, built from the rows in hand."""
        if rows is None:
            rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                        .order_by(HumanTask.id)))
        shown = [r for r in rows if r.id == task.id or r.status in projection.OPEN_STATUSES]
        names = {who.user_id: who.username} if who.user_id is not None else {}
        missing = {i for r in shown for i in (r.assignee_id, r.completed_by_id) if i is not None and i not in names}
        if missing:
            names.update(session.execute(select(User.id, User.username).where(User.id.in_(missing))).all())
        process = self._process_key(instance.version)
        dicts = {r.id: self._task_dict(r, instance.business_key, instance.title, process, names.get(r.assignee_id),
                                       names.get(r.completed_by_id), directory) for r in shown}
        open_tasks = sorted((d for d in dicts.values() if d["status"] in projection.OPEN_STATUSES),
                            key=lambda d: (d["created_at"], d["id"]))
        return {"task": dicts[task.id], "instance": self._instance_summary(session, instance, process, open_tasks)}

    def _completed(self, session: Session, instance: ProcessInstance, workflow, actor: str, now: datetime) -> None:
        """An instance ended: record it, and let its process apply its outcome (same transaction)."""
        session.add(AuditRecord(instance_id=instance.id, action="instance_completed", actor=actor, at=now))
        handler = self.completion_handlers.get(instance.version.definition.key)
        if handler is not None:
            handler(session, instance, projection.current_data(workflow), now)

    def _check_deadline_rules(self, task: HumanTask, props: dict, cleaned: dict, now: datetime) -> None:
        """``before_deadline_only="field=value"``: that choice (an extension request) is refused once
        the task's deadline has passed."""
        rule = props.get("before_deadline_only")
        if not rule or task.due_at is None or now <= task.due_at:
            return
        field, _, value = rule.partition("=")
        if str(cleaned.get(field.strip())) == value.strip():
            due = task.due_at.astimezone(self.tz)
            raise ValidationFailed({field.strip(): f"已超过办理期限（{due:%Y年%m月%d日}），不能再申请延期；请尽快办理答复"})

    def _close_supervision(self, session: Session, who, task: HumanTask, directory, data: dict) -> dict:
        """The leading-group office records how a 督办 item was dealt with."""
        cleaned = forms.validate(supervision_form(), data, self._form_context(session, directory))
        now = self.clock()
        task.status = projection.COMPLETED
        task.completed_at = now
        task.completed_by_id = who.user_id
        task.next_escalation_at = None
        session.add(AuditRecord(instance_id=task.instance_id, task_id=task.id, action="complete",
                                actor=who.username, at=now, task_name=task.name, data=cleaned))
        session.flush()
        return self._completion_result(session, directory, task.instance, task, who)

    @staticmethod
    def timer_probe(now: datetime):
        """A query with a row when some BPMN timer is due."""
        return select(ProcessInstance.id).where(ProcessInstance.next_timer_at <= now)

    def fire_due_timers(self, limit: int = 20) -> int:
        """Run the BPMN timers (and steps left to go on) that have fallen due. Only instances whose
        stored moment has passed are loaded. Each is claimed for TIMER_LEASE with a conditional
        UPDATE, computed outside any lock and written on its own: one failing instance backs off and,
        after its attempts, becomes an incident; it never holds back the others."""
        now = self.clock()
        with self.db.read() as session:
            due = list(session.execute(
                select(ProcessInstance.id, ProcessInstance.next_timer_at)
                .where(ProcessInstance.next_timer_at <= now, ProcessInstance.status == RUNNING)
                .order_by(ProcessInstance.next_timer_at).limit(limit)))
        taken = 0
        for instance_id, due_at in due:
            if not self._claim(instance_id, due_at, now + TIMER_LEASE):
                continue  # another scheduler has it
            taken += 1
            try:
                for _ in range(MAX_ROUNDS):
                    if self._advance(instance_id, authz.SYSTEM, refresh_timers=True) != "paused":
                        break
            except Conflict:
                continue  # a user completed a task of it meanwhile; its new state decides what is due
            except Exception as exc:
                self._instance_failed(instance_id, exc)
        return taken

    def _claim(self, instance_id: int, due_at: datetime, until: datetime) -> bool:
        def work(session: Session) -> bool:
            claimed = session.execute(
                update(ProcessInstance).where(ProcessInstance.id == instance_id,
                                              ProcessInstance.next_timer_at == due_at,
                                              ProcessInstance.status == RUNNING)
                .values(next_timer_at=until).execution_options(synchronize_session=False))
            return claimed.rowcount == 1
        return self._run(work)

    def _advance(self, instance_id: int, who: authz.Actor, refresh_timers: bool) -> str | None:
        """One round for an instance no user is acting on (a timer fired, an operation ran): compute,
        then write with the revision check. Returns None (nothing to do), "done" or "paused" (an
        operation ran; the step goes on in the next round)."""
        def compute(session: Session) -> _Computed | None:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None or instance.status != RUNNING:
                return None
            version = instance.version
            rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)))
            planner = self._planner(session)
            workflow = load_state(instance.state_json, instance.serializer_version, self.parsed_spec(version),
                                  self._script_engine(planner, who.username))
            before = {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)}
            if refresh_timers:
                workflow.refresh_timers()
            pending = self._steps(workflow)
            self._process_key(version)
            return _Computed(who=who, instance=instance, workflow=workflow, pending=pending, rows=rows,
                             waiting_before=before)

        def write(session: Session, computed: _Computed) -> str:
            instance, workflow, now = computed.instance, computed.workflow, self.clock()
            directory = DepartmentDirectory.of(session)
            audits = projection.AuditBatch()
            if computed.pending is not None:
                self._run_operation(session, instance, computed.pending, who, now, audits)
            values = self._state_values(instance, workflow, now, directory)
            values["next_timer_at"] = now if computed.pending is not None else values["next_timer_at"]
            projection.write_instance_state(session, instance, values)
            if getattr(instance, "failed_attempts", 0):  # it succeeded after failing: start counting afresh
                session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                                .values(failed_attempts=0, last_error=None)
                                .execution_options(synchronize_session=False))
            fired = computed.waiting_before - {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)}
            if refresh_timers:
                audits.add(instance_id=instance.id, action="timer_fired", actor="system", at=now,
                           data={"waiting_before": len(computed.waiting_before), "resolved": len(fired)})
            projection.sync(session, instance, workflow, directory, now, who.username,
                            planner=self._planner(session), rows=computed.rows, audits=audits, write=True)
            audits.write(session)
            if instance.status == COMPLETED:
                session.add(instance)  # back from the read transaction for the process's outcome
                self._completed(session, instance, workflow, who.username, now)
                session.flush()
            return "paused" if computed.pending is not None else "done"
        return self._unit(compute, write)[1]

    def _instance_failed(self, instance_id: int, exc: Exception) -> None:
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
            name = None
            if element:
                spec = self.parsed_spec(instance.version)
                name = _element_name(spec, element)
            if self.incidents is not None:
                self.incidents.instance_failed(session, instance, element, name, message, detail,
                                               max_attempts=self.settings.step_max_attempts)
            else:  # no incident service wired (a bare WorkflowService): back off all the same
                instance.next_timer_at = self.clock() + TIMER_LEASE
        try:
            self._run(work)
        except Exception:
            log.exception("could not record the failure of instance %s", instance_id)

    # -- queries ---------------------------------------------------------------------------
    def tasks(self, *, actor: str | None = None, department: str | None = None, status: str = "open",
              instance_id: int | None = None, limit: int = 200, offset: int = 0) -> list[dict]:
        """Task list from the projection table; never deserialises instances."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            directory = DepartmentDirectory.of(session)
            conditions = []
            if status == "open":
                conditions.append(HumanTask.status.in_(projection.OPEN_STATUSES))
            elif status != "all":
                if status not in projection.STATUS_LABELS:
                    raise EngineError(f"未知的任务状态「{status}」，可选：open、all、"
                                      + "、".join(projection.STATUS_LABELS))
                conditions.append(HumanTask.status == status)
            if department:
                conditions.append(HumanTask.department_id == directory.get(department).id)
            if instance_id is not None:
                conditions.append(HumanTask.instance_id == instance_id)
            visible = authz.visible_task_filter(who)
            if visible is not None:
                conditions.append(visible)
            return self._task_rows(session, directory, conditions, limit=limit, offset=offset)

    @staticmethod
    def _task_rows(session: Session, directory: DepartmentDirectory, conditions: list,
                   limit: int | None = None, offset: int = 0) -> list[dict]:
        """One joined query for a page of tasks (no per-row lazy loads)."""
        assignee, completer = aliased(User), aliased(User)
        query = (
            select(HumanTask, ProcessInstance.business_key, ProcessInstance.title, ProcessDefinition.key,
                   assignee.username, completer.username)
            .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
            .join(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
            .join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
            .outerjoin(assignee, HumanTask.assignee_id == assignee.id)
            .outerjoin(completer, HumanTask.completed_by_id == completer.id)
            .where(*conditions)
            .order_by(HumanTask.created_at, HumanTask.id)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        return [WorkflowService._task_dict(task, key, title, process, assignee_name, completer_name, directory)
                for task, key, title, process, assignee_name, completer_name in session.execute(query)]

    @staticmethod
    def _task_dict(task: HumanTask, key: str, title: str, process: str, assignee_name: str | None,
                   completer_name: str | None, directory: DepartmentDirectory) -> dict:
        return {
            "id": task.id,
            "instance_id": task.instance_id,
            "business_key": key,
            "title": title,
            "process": process,
            "task": task.bpmn_id,
            "name": task.name,
            "stage": task.stage,
            "department": directory.name_of(task.department_id),
            "roles": sorted(authz.task_roles(task)),
            "status": task.status,
            "status_label": projection.STATUS_LABELS[task.status],
            "form": task.form,
            "created_at": task.created_at.isoformat(),
            "due_at": task.due_at.isoformat() if task.due_at else None,
            "deadline_confirmed": task.deadline_confirmed if task.due_at else None,
            "escalation_level": task.escalation_level,
            "next_escalation_at": task.next_escalation_at.isoformat() if task.next_escalation_at else None,
            "completed_at": task.completed_at.isoformat() if task.completed_at else None,
            "assignee": assignee_name,
            "completed_by": completer_name,
        }

    def _instance_summary(self, session: Session, instance: ProcessInstance, process: str | None = None,
                          open_tasks: list[dict] | None = None) -> dict:
        if open_tasks is None:
            open_tasks = self._task_rows(session, DepartmentDirectory.of(session), [
                HumanTask.instance_id == instance.id, HumanTask.status.in_(projection.OPEN_STATUSES)])
        return {
            "id": instance.id,
            "business_key": instance.business_key,
            "title": instance.title,
            "process": process or instance.version.definition.key,
            "version": instance.version.version,
            "status": instance.status,
            "item_status": instance.item_status,
            "started_at": instance.started_at.isoformat(),
            "started_by": instance.started_by,
            "completed_at": instance.completed_at.isoformat() if instance.completed_at else None,
            "open_tasks": open_tasks,
        }

    def _find_instance(self, session: Session, ref) -> ProcessInstance:
        instance = None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            instance = session.get(ProcessInstance, int(ref))
        if instance is None and isinstance(ref, str):
            instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == ref))
        if instance is None:
            raise InstanceNotFound(ref)
        return instance

    def show(self, ref, actor: str | None = None) -> dict:
        """An instance with its current data, open tasks and history (id or business key)."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            instance = self._find_instance(session, ref)
            if not who.sees_all:
                mine = session.scalar(select(func.count(HumanTask.id)).where(
                    HumanTask.instance_id == instance.id, HumanTask.department_id == who.department_id))
                if not mine:
                    raise InstanceNotFound(ref)
            workflow = load_state(instance.state_json, instance.serializer_version,
                                  self.parsed_spec(instance.version), self.script_engine)
            out = self._instance_summary(session, instance)
            out["data"] = json.loads(json.dumps(projection.current_data(workflow), default=str))
            users = dict(session.execute(select(User.username, User.display_name)).all())
            out["history"] = [
                {"at": a.at.isoformat(), "actor": a.actor, "actor_name": users.get(a.actor, a.actor),
                 "action": a.action, "task_id": a.task_id, "task": a.task_name, "data": a.data}
                for a in session.scalars(select(AuditRecord).where(AuditRecord.instance_id == instance.id)
                                         .order_by(AuditRecord.id))
            ]
            return out

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
