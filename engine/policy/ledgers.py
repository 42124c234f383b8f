"""Ledgers (台账) as Excel workbooks: the problem ledger, the measure ledger and the pool ledger.

Column headers are Chinese; filters are a period (dates, Beijing time) and a department. Who may
export what is decided by the caller's role (a department's users get their department's rows).
"""
from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import date
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines import ladder
from engine.identity.org import measures_as_data
from engine.policy.cells import append_row
from engine.policy.dispatch.figures import period_bounds
from engine.policy.pool.enterprises import TIERS
from engine.storage.models import (
    AuditRecord,
    Department,
    Enterprise,
    Escalation,
    HumanTask,
    ItemLink,
    ItemMeasure,
    Measure,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    User,
)

_PROBLEM_COLUMNS = ["事项编号", "企业", "类别", "登记时间", "主办单位", "协办单位", "承办单位及期限", "事项状态",
                    "办结时间", "退回次数", "延期申请"]


_LINK_COLUMNS = ["关联企业（统一社会信用代码）", "涉及措施"]


def problem_columns() -> list[str]:
    """The problem ledger's headers: the item's facts, a count per level of the ladder, the rating, the
    registry enterprise and the measures it concerns."""
    return _PROBLEM_COLUMNS + [level.label for level in ladder.current().levels] + ["企业评价"] + _LINK_COLUMNS


def _links(session: Session, ids: list[int]) -> tuple[dict[int, str], dict[int, str]]:
    """Per item: 「name（code）」 of its registry enterprise, and its measures 「3. title；11. title」."""
    enterprises = {i: f"{name}（{code}）" for i, name, code in session.execute(
        select(ItemLink.instance_id, Enterprise.name, Enterprise.uscc).join(
            Enterprise, ItemLink.enterprise_id == Enterprise.id).where(ItemLink.instance_id.in_(ids)))}
    measures: dict[int, list[str]] = defaultdict(list)
    for i, no, title in session.execute(select(ItemMeasure.instance_id, Measure.no, Measure.title).join(
            Measure, ItemMeasure.measure_no == Measure.no).where(ItemMeasure.instance_id.in_(ids))
            .order_by(Measure.no)):
        measures[i].append(f"{no}. {title}")
    return enterprises, {i: "；".join(nos) for i, nos in measures.items()}


def _book(title: str, headers: list[str], rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    append_row(sheet, headers)  # the ladder's level labels are configured, not constants
    for row in rows:
        append_row(sheet, row)
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = 18
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problem_ledger(session: Session, tz: ZoneInfo, start: date | None, end: date | None,
                   department_id: int | None) -> bytes:
    query = (select(ProcessInstance).join(ProcessVersion).join(ProcessDefinition)
             .where(ProcessDefinition.key == "problem_dispatch").order_by(ProcessInstance.id))
    if start and end:
        lo, hi = period_bounds(start, end, tz)
        query = query.where(ProcessInstance.started_at >= lo, ProcessInstance.started_at < hi)
    instances = list(session.scalars(query))
    ids = [i.id for i in instances]
    names = {d.id: d.name for d in session.scalars(select(Department))}
    tasks = defaultdict(list)
    for t in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(ids), HumanTask.kind == "bpmn")):
        tasks[t.instance_id].append(t)
    escalations = Counter((e.instance_id, e.level) for e in
                          session.scalars(select(Escalation).where(Escalation.instance_id.in_(ids))))
    returns: Counter[int] = Counter()
    extensions: Counter[int] = Counter()
    ratings: dict[int, str | None] = {}
    for a, stage in session.execute(select(AuditRecord, HumanTask.stage).join(
            HumanTask, AuditRecord.task_id == HumanTask.id).where(
            AuditRecord.instance_id.in_(ids), AuditRecord.action == "complete")):
        data = a.data or {}
        if stage == "sign" and data.get("sign_decision") == "return":
            returns[a.instance_id] += 1
        elif stage == "handle" and data.get("handle_action") == "request_extension":
            extensions[a.instance_id] += 1
        elif stage == "rating":
            ratings[a.instance_id] = data.get("satisfied") or data.get("rating_value")  # rating_value: before 回访 records
    linked, measures = _links(session, ids)
    rows = []
    for i in instances:
        steps = [t for t in tasks[i.id] if t.stage in ("sign", "handle")]  # by stage, as the figures
        departments = {t.department_id for t in steps}
        if department_id is not None and department_id not in departments:
            continue
        lead = names.get(i.lead_department_id) if i.lead_department_id else None
        co = sorted({names[d] for d in departments} - {lead} - {names.get(t.department_id) for t in steps
                                                               if t.stage == "sign" and _returned(t, tasks[i.id])})
        deadlines = {}
        for t in sorted(steps, key=lambda t: t.id):
            if t.stage == "handle" and t.due_at:
                deadlines[names[t.department_id]] = t.due_at.astimezone(tz).date().isoformat()
        rows.append([
            i.business_key, i.subject, i.category, i.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            lead or "", "、".join(co), "；".join(f"{k}（{v}）" for k, v in deadlines.items()), i.item_status or "",
            i.completed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if i.completed_at else "",
            returns[i.id], extensions[i.id], *[escalations[(i.id, level.number)] for level in ladder.current().levels],
            ratings.get(i.id) or "", linked.get(i.id, ""), measures.get(i.id, ""),
        ])
    return _book("问题台账", problem_columns(), rows)


def _returned(sign: HumanTask, all_tasks: list[HumanTask]) -> bool:
    # A department that signed and then never handled (its slot went to another unit) had returned it.
    return not any(t.stage == "handle" and t.department_id == sign.department_id for t in all_tasks)


def measure_ledger(session: Session, department_name: str | None) -> bytes:
    from engine.policy.measures.reports import latest_status

    status = latest_status(session, date.max)
    rows = []
    for m in measures_as_data(session):
        units = m["lead"] + m["responsible"]
        if department_name and not any(_same(department_name, u, session) for u in units):
            continue
        latest = status.get(m["no"], {})
        rows.append([m["no"], m["title"], "、".join(m["lead"]) or "（未列牵头单位）", "、".join(m["responsible"]),
                     m["text"], latest.get("period_end", ""), latest.get("assessment") or "尚无报告",
                     latest.get("comment") or ""])
    return _book("措施台账", ["序号", "措施", "牵头单位", "责任单位", "措施内容", "最近报告期止", "评定", "评定意见"],
                 rows)


def _same(name: str, written: str, session: Session) -> bool:
    from engine.identity.org import DepartmentDirectory

    directory = DepartmentDirectory.of(session)
    a, b = directory.find(name), directory.find(written)
    return a is not None and a == b


def pool_ledger(session: Session, industries_of: set[str] | None) -> bytes:
    officers = {u.id: u.display_name for u in session.scalars(select(User))}
    rows = []
    for e in session.scalars(select(Enterprise).where(Enterprise.in_pool.is_(True)).order_by(Enterprise.name)):
        if industries_of is not None and e.industry not in industries_of:
            continue
        last = max(e.years, key=lambda y: y.year) if e.years else None
        rows.append([e.name, e.uscc, e.industry or "", TIERS.get(e.tier, e.tier),
                     e.pool_since.isoformat() if e.pool_since else "",
                     e.pool_valid_until.isoformat() if e.pool_valid_until else "",
                     officers.get(e.service_officer_id, ""), last.year if last else "",
                     last.revenue if last else "", last.rd_expense if last else ""])
    return _book("培育库台账", ["企业名称", "统一社会信用代码", "行业", "梯度", "入库日期", "有效期至", "服务专员",
                             "最近数据年度", "营业收入（元）", "研发投入（元）"], rows)
