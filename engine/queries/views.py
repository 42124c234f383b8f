"""Read models for the pages: the inbox with its tabs, a task with its item, the dashboard.

Every query here is on indexed projection columns and is limited to what the actor may see.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines import ladder
from engine.deadlines.calendar_store import calendar_of
from engine.deadlines.pauses import clock_stopped
from engine.errors import TaskNotFound
from engine.identity import authz
from engine.identity.colleagues import colleagues
from engine.queries import matter, matter_steps, task_brief  # noqa: F401 (matter_steps registers its sections)
from engine.queries.pauses import PAUSE_ACTIONS, audit_fields
from engine.queries.tasks import COUNT_CAP, TABS, InboxFilter, TaskLists, actionable, days_left_label  # noqa: F401 (re-exported)
from engine.repository.registry import properties_of
from engine.runtime import forms
from engine.runtime.projection import OPEN_STATUSES, STATUS_LABELS
from engine.runtime.serialization import load_state
from engine.storage.models import (
    Attachment,
    AuditRecord,
    Comment,
    Department,
    EnterpriseContact,
    HumanTask,
    ProcessInstance,
    User,
)


class _ActionLabels(Mapping[str, str]):
    """The fixed actions' names, and ``escalation_<n>`` for each level of the ladder in force."""

    def __init__(self, fixed: dict[str, str]):
        self._fixed = fixed

    def _all(self) -> dict[str, str]:
        return {**self._fixed, **ladder.current().action_labels()}

    def __getitem__(self, code: str) -> str:
        return self._all()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


# The one table of audit actions' Chinese names (timelines, the CLI's history). "发起": every process
# starts this way, not only problem registration.
_FIXED_ACTIONS = {"start": "发起", "task_created": "生成待办", "complete": "办理", "task_cancelled": "取消待办",
                  "instance_completed": "办结归档", "timer_fired": "定时器触发", "scheduled_start": "按计划发起",
                  "comment": "留言", "attachment": "上传附件", "operation": "执行操作", "migrated": "迁移到新版本",
                  "incident": "出错（已通知系统管理员）", "incident_retried": "管理员重试", "incident_cancelled": "管理员取消",
                  "incident_retry_failed": "重试失败", "incident_resolved": "异常已处理",
                  "version_trusted": "标记为可信版本", "measures_tagged": "修改涉及措施",
                  "version_untrusted": "取消可信标记",
                  **PAUSE_ACTIONS,  # 挂起 (engine/queries/pauses.py)
                  # 挂牌督办 (engine/policy/supervision/listing.py), on the item's own history
                  "listed": "挂牌督办", "listing_letter": "签发督办函", "listing_continue": "审阅督办回复：继续督办",
                  "listing_raise": "审阅督办回复：升级督办单颜色", "listing_lift": "解除挂牌督办",
                  "listing_closed": "事项办结，挂牌督办结束",
                  # merged duplicates (engine/policy/dispatch/merging.py) and the messages the engine delivers
                  "merged_into": "合并到主件", "merged_item_added": "并入重复问题", "message_delivered": "收到消息",
                  "merged_items_closing": "合并件随主件办结", "merged_closed": "随主件办结，已告知企业",
                  "enterprise_told": "已告知企业",
                  "enterprise_not_reached": "未能告知企业（无可用的联系渠道）",
                  "merged_items_released": "主件撤销，合并件退回研判",
                  "merge_released": "主件已撤销，解除合并，重新研判",
                  # the circular's objection window (engine/policy/circulars/objections.py, resolution.py)
                  "circular_checked": "成员单位核对通报数据", "circular_check_lapsed": "逾期未核对，视为无异议",
                  "objection_resolved": "处理通报数据异议",
                  # the enterprise portal (engine/policy/enterprise_requests)
                  "enterprise_submitted": "企业在企业服务平台提交", "answer_released": "审核通过，答复发布给企业",
                  "enterprise_applied": "企业在企业服务平台申请入库", "public_objection": "公众提出公示期异议",
                  # 推荐申报 (engine/policy/recognition)
                  "recognition_recorded": "登记认定结果",
                  # 市区联动 (engine/policy/dispatch/city_link.py)
                  "escalated_to_city": "提请市级协调（市区联动）", "city_answered": "市级协调已有结果"}
ACTION_LABELS = _ActionLabels(_FIXED_ACTIONS)


class Queries(TaskLists):
    def __init__(self, db, tz: ZoneInfo, clock, workflows=None):
        self.db = db
        self.tz = tz
        self.clock = clock
        self.workflows = workflows  # the runtime (version cache, script engine) for instance views

    def overdue(self, actor: authz.Actor, limit: int = 200) -> list[dict]:
        """Every overdue open task the actor may see (all departments for central roles)."""
        now = self.clock()
        with self.db.read() as session:
            calendar = calendar_of(session)
            today = now.astimezone(self.tz).date()
            visible = authz.visible_task_filter(actor)
            rows = session.execute(
                select(HumanTask, ProcessInstance.business_key, ProcessInstance.title, Department.name)
                .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
                .join(Department, HumanTask.department_id == Department.id)
                .where(HumanTask.status.in_(OPEN_STATUSES), HumanTask.due_at < now, ~clock_stopped(HumanTask.id),
                       *([visible] if visible is not None else []))
                .order_by(HumanTask.due_at).limit(limit)).all()
            return [{"id": t.id, "instance_id": t.instance_id, "business_key": key, "title": title, "name": t.name,
                     "department": dep, "due_local": t.due_at.astimezone(self.tz),
                     "overdue_days": -self._days_left(calendar, today, t.due_at),
                     "escalation_level": t.escalation_level,
                     "escalation_label": ladder.current().label(t.escalation_level)}
                    for t, key, title, dep in rows]

    def _days_left(self, calendar, today: date, due_at: datetime | None) -> int | None:
        if due_at is None:
            return None
        return calendar.working_days_between(today, due_at.astimezone(self.tz).date())

    def task_brief(self, actor: authz.Actor, task_id: int) -> dict:
        """A task as the JSON API gives it, in two statements (engine/queries/task_brief.py)."""
        with self.db.read() as session:
            return task_brief.brief(session, actor, task_id, self.tz, ACTION_LABELS, _readable)

    def task_detail(self, actor: authz.Actor, task_id: int) -> dict:
        """A task with its item's facts, history, comments and attachments (404 for what one may not see)."""
        with self.db.read() as session:
            task = session.get(HumanTask, task_id)
            if task is None or not self._may_see_instance(session, actor, task.instance_id):
                raise TaskNotFound(task_id)
            instance = task.instance
            # A form marked "x-private" is its department's own (a unit's row of a circular to check).
            private = bool(task.form and (instance.version.forms.get(task.form) or {}).get("x-private"))
            if private and not authz.can_see_task(actor, task):
                raise TaskNotFound(task_id)
            can_act = task.status in OPEN_STATUSES and self._may_act(actor, task)
            schema = None
            if can_act and task.form:
                if task.kind == "supervision":
                    from engine.runtime.supervision import supervision_form

                    schema = supervision_form()
                else:
                    schema = instance.version.forms.get(task.form)
            workflow = self._workflow(instance)
            colleague_names: dict[str, str] = {}
            if schema is not None and task.kind != "supervision":
                spiff_task = workflow.get_task_from_id(UUID(task.spiff_task_id)) if task.spiff_task_id else None
                schema = forms.bind_choices(schema, spiff_task.data if spiff_task is not None else {})
                if any(p.get("format") == "colleague" for p in schema.get("properties", {}).values()):
                    colleague_names = colleagues(session, task.department_id)
            calendar, now = calendar_of(session), self.clock()
            days = self._days_left(calendar, now.astimezone(self.tz).date(), task.due_at)
            overdue = task.due_at is not None and task.due_at < now and task.status in OPEN_STATUSES
            return {
                "task": task, "instance": instance, "schema": schema,
                "department": session.get(Department, task.department_id).name,
                "status_label": STATUS_LABELS[task.status],
                "escalation_label": ladder.current().label(task.escalation_level),
                "due_local": task.due_at.astimezone(self.tz) if task.due_at else None,
                "working_days_left": days, "overdue": overdue,
                "days_left_label": days_left_label(days, overdue) if task.status in OPEN_STATUSES else "",
                "can_act": can_act, "colleagues": colleague_names,
                "handler": session.get(User, task.handler_id).display_name if task.handler_id else None,
                "matter": self._matter(session, task, calendar, workflow),
                **self._item_parts(session, instance.id),
            }

    def _workflow(self, instance):
        return load_state(instance.state_json, instance.serializer_version,
                          self.workflows.parsed_spec(instance.version), self.workflows.script_engine)

    def _matter(self, session: Session, task: HumanTask, calendar, workflow) -> dict:
        """The task page's matter card (engine.queries.matter), from the task's own data in the state."""
        instance = task.instance
        props = next((properties_of(ts) for ts in workflow.spec.task_specs.values() if isinstance(ts, StartEvent)),
                     {})
        start_form = (instance.version.forms or {}).get(props.get("formJsonSchemaFilename") or "")
        return matter.build(session, task, workflow, start_form, self.tz, calendar)

    def _may_act(self, actor, task) -> bool:
        try:
            authz.check_can_act(actor, task)
        except Exception:
            return False
        return True

    def _may_see_instance(self, session: Session, actor: authz.Actor, instance_id: int) -> bool:
        return authz.may_see_item(session, actor, instance_id)

    def _item_parts(self, session: Session, instance_id: int) -> dict:
        users = matter.people(session)  # 「name（department）」; the scheduler is 「系统」
        names = {u.id: u.display_name for u in session.scalars(select(User))}
        forms = session.get(ProcessInstance, instance_id).version.forms or {}
        task_forms = dict(session.execute(select(HumanTask.id, HumanTask.form)
                                          .where(HumanTask.instance_id == instance_id)).all())
        history = [{"at": a.at.astimezone(self.tz), "actor": matter.person(users, a.actor),
                    "action": ACTION_LABELS.get(a.action, a.action), "code": a.action, "task": a.task_name,
                    "data": a.data or {},
                    "fields": _readable(forms.get(task_forms.get(a.task_id) or ""), a.data)
                    if a.action in ("complete", "start") else audit_fields(a.action, a.data, self.tz)}
                   for a in session.scalars(select(AuditRecord).where(AuditRecord.instance_id == instance_id)
                                            .order_by(AuditRecord.id))]
        comments = [{"at": c.at.astimezone(self.tz), "user": names.get(c.user_id, ""), "text": c.text}
                    for c in session.scalars(select(Comment).where(Comment.instance_id == instance_id)
                                             .order_by(Comment.id))]
        files = list(session.scalars(select(Attachment).where(Attachment.instance_id == instance_id)
                                     .order_by(Attachment.id)))
        senders = _enterprise_senders(session, files)
        attachments = [{"id": a.id, "filename": a.filename, "size": a.size, "at": a.at.astimezone(self.tz),
                        "user": names.get(a.user_id, "") if a.user_id is not None else senders.get(a.contact_id, "企业")}
                       for a in files]
        tasks = session.execute(
            select(HumanTask, Department.name).join(Department, HumanTask.department_id == Department.id)
            .where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
        return {"history": history, "comments": comments, "attachments": attachments,
                "tasks": [{"id": t.id, "name": t.name, "department": d, "status": t.status,
                           "status_label": STATUS_LABELS[t.status], "bpmn_id": t.bpmn_id, "kind": t.kind,
                           "due_local": t.due_at.astimezone(self.tz) if t.due_at else None,
                           "escalation_level": t.escalation_level,
                           "overdue": t.due_at is not None and t.status in OPEN_STATUSES and t.due_at < self.clock()}
                          for t, d in tasks]}

    def instance_detail(self, actor: authz.Actor, instance_id: int) -> dict | None:
        with self.db.read() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None or not self._may_see_instance(session, actor, instance_id):
                return None
            version = instance.version
            key = version.definition.key
            # A deployment may hold several files: show the one that defines this process.
            pattern = re.compile(r"<(?:\w+:)?process\b[^>]*\bid=[\"']" + re.escape(key) + r"[\"']")
            source = next((text for name, text in sorted((version.sources or {}).items())
                           if name.endswith(".bpmn") and pattern.search(text)), None)
            return {"instance": instance, "process": version.definition.key, "version": version.version,
                    "bpmn": source, "diagram_tasks": self._diagram_tasks(session, instance_id),
                    **self._item_parts(session, instance_id)}

    def _diagram_tasks(self, session: Session, instance_id: int) -> list[dict]:
        """The open steps drawn on the diagram: who holds each and by when (Beijing), for its overlay."""
        calendar, now = calendar_of(session), self.clock()
        today = now.astimezone(self.tz).date()
        rows = session.execute(
            select(HumanTask, Department.name).join(Department, HumanTask.department_id == Department.id)
            .where(HumanTask.instance_id == instance_id, HumanTask.kind == "bpmn",
                   HumanTask.status.in_(OPEN_STATUSES)).order_by(HumanTask.id)).all()
        return [{"bpmn_id": t.bpmn_id, "department": dep, "status": STATUS_LABELS[t.status],
                 "due": t.due_at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if t.due_at else None,
                 "working_days_left": self._days_left(calendar, today, t.due_at),
                 "overdue": t.due_at is not None and t.due_at < now}
                for t, dep in rows]


def _row_text(prop: dict, row) -> str:
    """One row of a list field: 区人力社保局，协办期限（工作日） 3 — a column titled like the list itself
    (协办单位 in 协办单位) is not repeated."""
    if not isinstance(row, dict):
        return str(row)
    columns = prop.get("items", {}).get("properties", {})
    parts = []
    for key, value in row.items():
        column = columns.get(key, {}).get("title", key)
        parts.append(str(value) if column == prop.get("title") else f"{column} {value}")
    return "，".join(parts)


def _readable(schema: dict | None, data: dict | None) -> list[tuple[str, str]]:
    """Submitted data as (field title, shown value) pairs, in the form's order, for the timeline."""
    if not schema or not data:
        return []
    out = []
    for name, prop in schema.get("properties", {}).items():
        value = data.get(name)
        if value in (None, "", []):
            continue
        if isinstance(value, bool):
            shown = "是" if value else "否"
        elif isinstance(value, list):
            shown = "；".join(_row_text(prop, row) for row in value)
        else:
            shown = str(prop.get("x-labels", {}).get(value, value))
        out.append((prop.get("title", name), shown))
    return out


def _enterprise_senders(session: Session, files: list[Attachment]) -> dict[int, str]:
    """「企业联系人 name」 for the files an enterprise sent through the portal (they name no staff account)."""
    wanted = sorted({a.contact_id for a in files if a.user_id is None and a.contact_id is not None})
    if not wanted:
        return {}
    rows = session.execute(select(EnterpriseContact.id, EnterpriseContact.name).where(EnterpriseContact.id.in_(wanted)))
    return {i: f"企业联系人 {name}" for i, name in rows}
