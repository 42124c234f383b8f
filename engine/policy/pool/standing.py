"""Where an enterprise's admissions (pool_admission) stand, in the words an enterprise reads: found by the
instance's indexed ``subject`` (the credit code the start form names) among pool_admission's versions, the
step from the open human_task rows, the notice's end from the instance's indexed ``next_timer_at`` (the 公示
boundary timer is the diagram's only timer), the result and its reasons from a finished instance's data.
No staff names, comments or review notes other than the stated reasons."""
from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import localtime
from engine.runtime import projection
from engine.runtime.serialization import load_state
from engine.storage.models import Enterprise, HumanTask, ProcessDefinition, ProcessInstance, ProcessVersion

ADMISSION = "pool_admission"
UNFINISHED = ("running", "error")  # an instance stuck on an error is still under way for the enterprise
NOTICE_STATUS = "公示中"  # item_status the diagram's 发布公示 sets
STEP_WORDS = {"complete_data": "资料不全，正由服务专员补充企业数据", "industry_review": "行业主管部门审核中",
              "commission_review": "区经济信息委审核中", "public_notice": "公示中",
              "resolve_objection": "公示期间收到异议，正在核查处理"}
RESULT_WORDS = {"admitted": "已入库", "ineligible": "不符合培育条件，未入库", "rejected": "经审核不予入库"}


def admission_versions():
    return (select(ProcessVersion.id).join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
            .where(ProcessDefinition.key == ADMISSION))


def running_admission(session: Session, code: str, exclude: int | None = None) -> ProcessInstance | None:
    query = select(ProcessInstance).where(ProcessInstance.subject == code, ProcessInstance.status.in_(UNFINISHED),
                                          ProcessInstance.version_id.in_(admission_versions()))
    if exclude is not None:
        query = query.where(ProcessInstance.id != exclude)
    return session.scalars(query.order_by(ProcessInstance.id).limit(1)).first()


def notice_end(instance: ProcessInstance, tz) -> date | None:
    """The last day of the notice: the timer fires at the end of it (midnight after, Beijing time)."""
    if instance.next_timer_at is None:
        return None
    return (localtime.local(instance.next_timer_at, tz) - timedelta(seconds=1)).date()


def _result(workflows, instance: ProcessInstance) -> tuple[str | None, list[str], str | None]:
    workflow = load_state(instance.state_json, instance.serializer_version, workflows.parsed_spec(instance.version),
                          workflows.script_engine)
    data = json.loads(json.dumps(projection.current_data(workflow), default=str))
    reasons = [str(r) for r in data.get("admission_reasons") or [] if r]
    return data.get("admission_result"), reasons, data.get("pool_valid_until")


def admissions_of(session: Session, workflows, e: Enterprise, tz, limit: int = 20) -> list[dict]:
    instances = list(session.scalars(
        select(ProcessInstance).where(ProcessInstance.subject == e.uscc,
                                      ProcessInstance.version_id.in_(admission_versions()))
        .order_by(ProcessInstance.id.desc()).limit(limit)))
    steps: dict[int, list[str]] = {}
    if instances:
        for instance_id, bpmn_id in session.execute(
                select(HumanTask.instance_id, HumanTask.bpmn_id).where(
                    HumanTask.instance_id.in_([i.id for i in instances]),
                    HumanTask.status.in_(projection.OPEN_STATUSES)).order_by(HumanTask.id)):
            steps.setdefault(instance_id, []).append(bpmn_id)
    out = []
    for i in instances:
        view = {"id": i.id, "business_key": i.business_key, "started_at": i.started_at, "completed_at": i.completed_at,
                "finished": i.status == "completed", "result": None, "reasons": [], "notice_until": None}
        if i.status == "completed":
            result, reasons, _ = _result(workflows, i)
            view.update(result=result, reasons=reasons, words=RESULT_WORDS.get(result or "", "已结束"))
            if result == "admitted" and e.pool_valid_until:
                view["words"] = f"已入库，有效期至 {e.pool_valid_until}"
        else:
            open_steps = steps.get(i.id, [])
            words = next((STEP_WORDS[s] for s in open_steps if s in STEP_WORDS), None)
            if i.status == "error":
                words = "办理中（系统处理遇到问题，管理员正在处理）"
            view["words"] = words or "办理中"
            if "public_notice" in open_steps:
                view["notice_until"] = notice_end(i, tz)
                if view["notice_until"]:
                    view["words"] = f"公示中，公示期至 {view['notice_until']}"
        out.append(view)
    return out
