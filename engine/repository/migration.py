"""Moving running instances to a newer version of their process (SpiffWorkflow's diff and migrate).

A preview lists what changes for the instance; migration is refused, with reasons, when a step the
instance is at (ready or waiting) no longer exists in the new version, or a sub-process it runs in
is gone. Migrating re-predicts the instance's open steps, so their task rows are re-created.
"""
from __future__ import annotations

import json

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.errors import Conflict, InstanceNotFound, ProcessNotFound
from engine.identity.org import DepartmentDirectory
from engine.runtime import projection
from engine.runtime.serialization import load_state, serializer
from engine.storage.models import AuditRecord, ProcessInstance, ProcessVersion

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _specs(version: ProcessVersion):
    specs = json.loads(version.spec_json)
    return serializer.from_dict(specs["spec"]), {k: serializer.from_dict(v)
                                                 for k, v in specs["subprocess_specs"].items()}


def _names(specs) -> list[str]:
    return sorted({getattr(s, "bpmn_name", None) or s.name for s in specs if not s.name.startswith(("Start", "End"))
                   and "." not in s.name})


class Migrations:
    def __init__(self, workflows):
        self.workflows = workflows
        self.db = workflows.db

    def _load(self, session, instance_id: int, version_number: int | None):
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise InstanceNotFound(instance_id)
        definition_id = instance.version.definition_id
        query = select(ProcessVersion).where(ProcessVersion.definition_id == definition_id)
        query = query.where(ProcessVersion.version == version_number) if version_number else \
            query.order_by(ProcessVersion.version.desc()).limit(1)
        target = session.scalar(query)
        if target is None:
            raise ProcessNotFound(f"{instance.version.definition.key} v{version_number}")
        return instance, target

    def _analyse(self, instance, target):
        workflow = load_state(instance.state_json, instance.serializer_version, instance.version.spec_json,
                              self.workflows.script_engine)
        new_spec, new_subs = _specs(target)
        top, sub_diffs = diff_workflow(serializer.registry, workflow, new_spec, new_subs)
        reasons = []
        for task in top.removed:
            if task.state & ACTIVE:
                reasons.append(f"当前步骤「{task.task_spec.bpmn_name or task.task_spec.name}」在新版本中已删除")
        for sp_diff in sub_diffs.values():
            if sp_diff is None:
                reasons.append("实例正在运行的子流程在新版本中已不存在")
                continue
            for task in sp_diff.removed:
                if task.state & ACTIVE:
                    reasons.append(f"当前步骤「{task.task_spec.bpmn_name or task.task_spec.name}」在新版本中已删除")
        spec_diff_added = [s for s in new_spec.task_specs.values() if s.name not in workflow.spec.task_specs]
        changes = {
            "added": _names(spec_diff_added),
            "removed": _names([t.task_spec for t in top.removed]),
            "changed": _names([t.task_spec for t in top.changed]),
        }
        return workflow, new_spec, new_subs, top, sub_diffs, reasons, changes

    @staticmethod
    def _refresh_open_rows(session, instance, workflow) -> None:
        """Steps that stayed open keep their rows; their names, roles and forms follow the new version."""
        from uuid import UUID

        from engine.repository.registry import properties_of
        from engine.storage.models import HumanTask

        for row in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                           HumanTask.kind == "bpmn",
                                                           HumanTask.status.in_(projection.OPEN_STATUSES))):
            task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            if task is None:
                continue
            props = properties_of(task.task_spec)
            row.name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
            row.roles = props.get("roles", row.roles)
            row.form = props.get("formJsonSchemaFilename", row.form)
            row.stage = props.get("stage", row.stage)

    def preview(self, instance_id: int, version_number: int | None = None) -> dict:
        with self.db.read() as session:
            instance, target = self._load(session, instance_id, version_number)
            *_, reasons, changes = self._analyse(instance, target)
            return {"instance": instance.business_key, "from": instance.version.version, "to": target.version,
                    "possible": not reasons and target.id != instance.version_id, "reasons": reasons,
                    "changes": changes}

    def migrate(self, instance_id: int, actor: str, version_number: int | None = None) -> dict:
        """Move an instance to another version. The new version's first steps are computed in a read
        transaction (diagram code runs in the sandbox, no write lock held), then written with the
        instance's revision checked."""
        w = self.workflows

        def compute(session):
            instance, target = self._load(session, instance_id, version_number)
            if target.id == instance.version_id:
                raise Conflict(f"实例已在第 {target.version} 版")
            workflow, new_spec, new_subs, top, sub_diffs, reasons, changes = self._analyse(instance, target)
            if reasons:
                raise Conflict("无法迁移：" + "；".join(reasons))
            migrate_workflow(top, workflow, new_spec)
            for sp_id, sp_diff in sub_diffs.items():
                sub = workflow.subprocesses[sp_id]
                migrate_workflow(sp_diff, sub, new_subs[sub.spec.name])
            workflow.subprocess_specs = new_subs
            workflow.script_engine = w.step_script_engine(w.planner(session), target)
            pending = w.run_steps(workflow)
            return instance.revision, instance.version.version, target.id, workflow, changes, pending

        revision, old, target_id, workflow, changes, pending = w.run_read(compute)

        def work(session):
            instance = session.get(ProcessInstance, instance_id)
            if instance is None or instance.revision != revision:
                raise Conflict("该实例已被他人同时办理，迁移未保存，请刷新后重试")
            target = session.get(ProcessVersion, target_id)
            now = w.clock()
            planner = w.planner(session)
            directory = DepartmentDirectory.of(session)
            instance.version_id = target.id
            instance.version = target
            w.save(instance, workflow, now, directory)
            if pending is not None:
                instance.next_timer_at = now  # the scheduler runs the operation the new version reached
            session.flush()
            session.add(AuditRecord(instance_id=instance.id, action="migrated", actor=actor, at=now,
                                    data={"from": old, "to": target.version, **changes}))
            projection.sync(session, instance, workflow, directory, now, actor, planner=planner)
            self._refresh_open_rows(session, instance, workflow)
            return {"instance": instance.business_key, "from": old, "to": target.version, "changes": changes}
        return w.run_write(work)
