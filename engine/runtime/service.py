"""Commands: start an instance, complete a task.

Every state change runs in one transaction: the instance state (with its optimistic revision
check), the task projection rows and the audit records commit together or not at all. How a step
is computed and written is engine.runtime.stepper; the task lists are engine.queries.tasks; timers
are engine.scheduling.timers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from engine.errors import Conflict, TaskNotFound, TaskNotOpen, ValidationFailed, WorkflowFailed
from engine.identity import authz
from engine.identity.org import DepartmentDirectory
from engine.repository.registry import properties_of
from engine.runtime import messages, projection, steps, summaries, supervision
from engine.runtime.pauses import check_not_paused
from engine.runtime.serialization import FORMAT_VERSION, load_state, new_workflow
from engine.runtime.stepper import COMPLETED, RUNNING, Computed, Stepper
from engine.runtime.summaries import CompletionResult, InstanceSummary
from engine.storage.models import HumanTask, ProcessInstance, ProcessVersion

log = logging.getLogger("zjtx.runtime")

# Statements on the hot path are built once: constructing one costs more than running it on SQLite.
# A task with all its instance's task rows, the instance and its version; the instance and version
# columns come with the task's own row only (the state is not sent and decompressed once per row).
_TASK_WITH_INSTANCE = (
    select(HumanTask, ProcessInstance, ProcessVersion)
    .outerjoin(ProcessInstance, and_(HumanTask.instance_id == ProcessInstance.id, HumanTask.id == bindparam("task_id")))
    .outerjoin(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
    .where(HumanTask.instance_id == select(HumanTask.instance_id).where(HumanTask.id == bindparam("task_id"))
           .scalar_subquery()))


def _text(value, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


class WorkflowService(Stepper):
    def warm(self) -> None:
        """Start the script workers and build the working calendar before the first request, so the
        first step after a restart costs what every other does."""
        from engine.runtime.script_pool import pool_for

        pool_for(self.limits).warm()
        try:
            with self.db.read() as session:
                calendar = self.planner(session).calendar
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
                for form in self.versions.forms_of(version).values():
                    field = form.get("x-category")
                    values = ((form.get("properties") or {}).get(field) or {}).get("enum") if field else None
                    out.extend(v for v in values or () if isinstance(v, str) and v not in out)
        return out

    # -- start -------------------------------------------------------------------------------
    def start(self, process_key: str, data: dict | None, actor: str | None = None,
              business_key: str | None = None,
              on_write: Callable[[Session, ProcessInstance, dict], None] | None = None) -> InstanceSummary:
        """Start the latest version of ``process_key`` with ``data`` (checked against its start form).
        ``on_write(session, instance, cleaned data)``: what the caller records with the new instance (an
        item's links), in the same transaction; what it raises undoes the start."""
        def write(session: Session, computed: Computed) -> InstanceSummary:
            instance, rows = self._write_start(session, computed, business_key, on_write)
            return summaries.from_rows(session, instance, rows, computed.who,
                                       self.versions.process_key(instance.version))
        computed, summary = self.unit(
            lambda session: self._compute_start(session, process_key, data, actor, business_key), write)
        if computed.pending is not None and self.go_on(summary["id"], computed.who):
            summary = self.run_read(lambda session: summaries.instance_summary(
                session, session.get(ProcessInstance, summary["id"])))
        return summary

    def _compute_start(self, session: Session, process_key: str, data: dict | None, actor,
                       business_key: str | None) -> Computed:
        who = authz.actor_for(session, actor)
        version = self.registry.latest(session, process_key)
        workflow = new_workflow(self.parsed_spec(version), self.step_script_engine(self.planner(session), version))
        props = next((properties_of(ts) for ts in workflow.spec.task_specs.values()
                      if isinstance(ts, StartEvent)), {})
        authz.check_can_start(who, {r.strip() for r in props.get("roles", "").split(",") if r.strip()},
                              version.definition.name)
        directory = DepartmentDirectory.of(session)
        cleaned = self.clean(session, directory, version, props.get("formJsonSchemaFilename"), data or {})
        self._check_business_key(session, business_key)
        title = self._title(version, props, cleaned)
        start_form = self.versions.forms_of(version).get(props.get("formJsonSchemaFilename") or "", {})
        workflow.task_tree.data.update(cleaned)
        pending = self.run_steps(workflow)
        self.versions.process_key(version)
        return Computed(who=who, instance=None, workflow=workflow, pending=pending, cleaned=cleaned,
                        extra={"version": version, "title": title, "start_form": start_form})

    @staticmethod
    def _check_business_key(session: Session, business_key: str | None) -> None:
        if business_key is not None and session.scalar(
                select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)):
            raise ValidationFailed({"business_key": f"编号「{business_key}」已被使用"})

    def _write_start(self, session: Session, computed: Computed, business_key: str | None,
                     on_write=None) -> tuple[ProcessInstance, list[HumanTask]]:
        version, workflow, who, cleaned = computed.extra["version"], computed.workflow, computed.who, computed.cleaned
        start_form = computed.extra["start_form"]
        self._check_business_key(session, business_key)
        now = self.clock()
        # Read before the new row is added: a query would flush it without its state.
        directory, planner = DepartmentDirectory.of(session), self.planner(session)
        instance = ProcessInstance(
            version=version, business_key=business_key or f"tmp-{uuid4()}", title=computed.extra["title"],
            subject=_text(cleaned.get(start_form.get("x-subject") or ""), 200),
            category=_text(cleaned.get(start_form.get("x-category") or ""), 32),
            status=RUNNING, serializer_version=FORMAT_VERSION,
            started_by=who.username, started_at=now, updated_at=now)
        session.add(instance)
        self.save(instance, workflow, now, directory)  # the first INSERT carries the state
        session.flush()
        if business_key is None:
            instance.business_key = f"ZJTX-{now.astimezone(self.tz):%Y}-{instance.id:05d}"
        if on_write is not None:
            on_write(session, instance, cleaned)
        audits = projection.AuditBatch()
        audits.add(instance_id=instance.id, action="start", actor=who.username, at=now, data=cleaned)
        if computed.pending is not None:
            self.run_operation(session, instance, computed.pending, who, now, audits)
            self.save(instance, workflow, now, directory)
            instance.next_timer_at = now  # the step goes on after this transaction (or at the next tick)
        rows = projection.sync(session, instance, workflow, directory, now, who.username, planner=planner, rows=[],
                               audits=audits)
        session.flush()
        audits.write(session)
        self.announce(session, instance, workflow, rows, [], who, now, planner)
        if instance.status == COMPLETED:
            self.completed(session, instance, workflow, who.username, now)
            session.flush()
        return instance, rows

    def _title(self, version: ProcessVersion, props: dict, data: dict) -> str:
        form = self.versions.forms_of(version).get(props.get("formJsonSchemaFilename") or "", {})
        template = form.get("x-title")
        if template:
            try:
                return template.format(**{k: ("" if v is None else v) for k, v in data.items()})[:200]
            except (KeyError, IndexError, ValueError):
                pass
        return version.definition.name

    # -- complete ----------------------------------------------------------------------------
    def complete(self, task_id: int, data: dict | None, actor: str | None) -> CompletionResult:
        """Complete an open task with ``data`` checked against the task's form.

        The step is computed in a read transaction (diagram code runs in the sandbox's workers, no
        write lock held), then written in one transaction with the instance's revision checked: if
        another user changed the instance meanwhile, nothing is written and Conflict is raised."""
        def write(session: Session, computed: Computed) -> CompletionResult:
            if computed.supervision:
                return self._close_supervision(session, computed.who, task_id, data or {})
            return self._write_completion(session, computed)
        computed, result = self.unit(lambda session: self._compute_completion(session, task_id, data, actor), write)
        # The tasks the rounds after an operation create follow from this task (what their notices say).
        if computed.pending is not None and self.go_on(computed.instance.id, computed.who,
                                                       (computed.task, computed.cleaned)):
            def refreshed(session: Session) -> CompletionResult:
                instance = session.get(ProcessInstance, computed.instance.id)
                return {"task": result["task"], "instance": summaries.instance_summary(session, instance)}
            result = self.run_read(refreshed)
        return result

    def _compute_completion(self, session: Session, task_id: int, data: dict | None, actor) -> Computed:
        who = authz.actor_for(session, actor)
        # The task with all its instance's task rows, the instance and its version, in one query
        # (the relationships then find them loaded).
        found = session.execute(_TASK_WITH_INSTANCE, {"task_id": task_id}).all()
        task = next((row[0] for row in found if row[0].id == task_id), None)
        if task is None:
            raise TaskNotFound(task_id)
        authz.check_can_act(who, task)
        if task.status not in projection.OPEN_STATUSES:
            raise TaskNotOpen(f"任务 {task.id}「{task.name}」已{projection.STATUS_LABELS[task.status]}，不能再次办理",
                              task_id=task.id)
        if task.kind == "supervision":
            return Computed(who=who, instance=None, workflow=None, pending=None, task=task, supervision=True)
        check_not_paused(session, task)  # resumed first (engine.runtime.pauses)
        instance = task.instance
        version = instance.version
        workflow = load_state(instance.state_json, instance.serializer_version, self.parsed_spec(version),
                              self.step_script_engine(self.planner(session), version))
        spiff_task = workflow.get_task_from_id(UUID(task.spiff_task_id))
        if spiff_task is None or spiff_task.state != TaskState.READY:
            raise Conflict(f"任务 {task.id} 当前不可办理，请刷新后重试", task_id=task.id)
        cleaned = self.clean(session, DepartmentDirectory.of(session), version, task.form, data or {},
                             task.department_id, spiff_task.data)
        now = self.clock()
        props = properties_of(spiff_task.task_spec)
        self._check_deadline_rules(task, props, cleaned, now)
        self._check_refusal(workflow, spiff_task, props, cleaned, self.versions.properties_of(version))
        spiff_task.data.update(cleaned)
        pending = self.run_steps(workflow, first=spiff_task)
        self.versions.process_key(version)
        return Computed(who=who, instance=instance, workflow=workflow, pending=pending,
                        rows=[row[0] for row in found], task=task, cleaned=cleaned, now=now)

    def _write_completion(self, session: Session, computed: Computed) -> CompletionResult:
        who, instance, workflow, task, now = computed.who, computed.instance, computed.workflow, computed.task, \
            computed.now
        directory = DepartmentDirectory.of(session)
        audits = projection.AuditBatch()
        audits.add(instance_id=instance.id, task_id=task.id, action="complete", actor=who.username, at=now,
                   task_name=task.name, data=computed.cleaned)
        if computed.pending is not None:
            self.run_operation(session, instance, computed.pending, who, now, audits)
        values = self.state_values(instance, workflow, now, directory)
        if computed.pending is not None or messages.waiting_one_sent(session, instance.id, workflow):
            values["next_timer_at"] = now  # the step goes on after this transaction (or at the next tick)
        # The step's writes as Core statements (the ORM's unit of work would cost more than they do):
        # the instance first, so the revision check fails before any task row is touched, then the
        # task rows, then the step's audit records.
        projection.write_instance_state(session, instance, values)
        planner = self.planner(session)
        rows = projection.sync(session, instance, workflow, directory, now, who.username, completed=task,
                               completed_by_id=who.user_id, planner=planner, rows=computed.rows,
                               audits=audits, write=True)
        audits.write(session)
        step = self.extensions.step_handler(self.versions.process_key(instance.version))
        if step is not None:  # the procedure's record of the decision and its messages, in this transaction
            step(session, instance, task, computed.cleaned, projection.current_data(workflow), who.username, now)
        self.announce(session, instance, workflow, rows, computed.rows, who, now, planner, task, computed.cleaned)
        if instance.status == COMPLETED:
            session.add(instance)  # back from the read transaction for the process's outcome (no statement)
            self.completed(session, instance, workflow, who.username, now)
            session.flush()
        return summaries.completion_result(session, instance, task, who, self.versions.process_key(instance.version),
                                           rows)

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

    @staticmethod
    def _check_refusal(workflow, spiff_task, props: dict, cleaned: dict, settings: dict) -> None:
        """The diagram's own rule for refusing an answer before anything runs (a capped extension request):
        ``refuse_if``, an expression on the task's data with the answer, and ``refuse_message``,
        ``field=message`` with the process properties filled in (``{extension_max_requests}``). A rule that
        returns a non-empty text is refusing with that text as the message."""
        rule = props.get("refuse_if")
        if not rule:
            return
        try:
            refused = workflow.script_engine.environment.evaluate(rule, {**spiff_task.data, **cleaned})
        except Exception as exc:
            raise WorkflowFailed(f"流程执行出错：{steps.where(spiff_task)}的拒绝条件（refuse_if）出错：{exc}",
                                 task=spiff_task.task_spec.bpmn_id) from None
        if not refused:
            return
        field, _, message = (props.get("refuse_message") or "").partition("=")
        try:
            message = message.format(**settings)
        except (KeyError, IndexError, ValueError):
            pass
        if isinstance(refused, str) and refused.strip():  # the rule said why (naming the enterprise), say that
            message = refused.strip()[:500]
        raise ValidationFailed({field.strip() or "表单": message.strip() or "不符合流程规定，不能提交"})

    def _close_supervision(self, session: Session, who, task_id: int, data: dict) -> CompletionResult:
        """The leading-group office records how a 督办 item was dealt with."""
        task = session.get(HumanTask, task_id, populate_existing=True)
        if task is None or task.status not in projection.OPEN_STATUSES:
            raise Conflict(f"任务 {task_id} 已被他人办理，请刷新后重试", task_id=task_id)
        directory = DepartmentDirectory.of(session)
        supervision.close(session, who, task, data, self.form_context(session, directory), self.clock())
        return summaries.completion_result(session, task.instance, task, who,
                                           self.versions.process_key(task.instance.version))
