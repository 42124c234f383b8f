"""What a task page shows above its form: the matter (the item as registered, the department's role
and what is asked of it) and what the step decides on (the request, the answers, the reason, the draft).

Read from the task's own data in the instance state (a department's slot of a multi-instance step
holds its own assignment) and from the audit records (who did what, when). The sections are chosen by
the task's form: the form is what the step decides with, so it names what the decider needs to see.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.queries import circular_matter
from engine.runtime import projection
from engine.storage.models import AuditRecord, Department, HumanTask, User

# Actors that are not people: the scheduler (timers, escalation, scheduled starts) and the CLI.
SYSTEM_ACTORS = {"system": "系统", "zjtx": "系统（管理命令）"}
ROLE_LABELS = {"lead": "主办", "co": "协办"}
# The start form's fields are the item as registered; these are read elsewhere on the page.
_NOT_FACTS = {"period"}


def people(session: Session) -> dict[str, str]:
    """username → 「display name（department）」, the department left out when the name says it."""
    rows = session.execute(select(User.username, User.display_name, Department.name)
                           .join(Department, User.department_id == Department.id)).all()
    return {u: (n if d in n else f"{n}（{d}）") for u, n, d in rows}


def person(names: dict[str, str], username: str | None) -> str:
    if username is None:
        return "系统"
    if username.startswith("enterprise:"):  # the enterprise itself, in the portal (no staff name has a colon)
        return "企业（企业服务平台）"
    return names.get(username) or SYSTEM_ACTORS.get(username, username)


@dataclass
class Context:
    """What a section builder reads: the task's data, its row, the instance's audit trail."""

    session: Session
    task: HumanTask
    data: dict
    names: dict[str, str]
    tz: object
    calendar: object
    audits: list[AuditRecord] = field(default_factory=list)
    task_departments: dict[int, str] = field(default_factory=dict)

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]

    def completions(self, test: Callable[[dict], bool]) -> list[AuditRecord]:
        return [a for a in self.audits if a.action == "complete" and test(a.data or {})]


def _text(value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def _date(value) -> str:
    """ISO dates as they are (YYYY-MM-DD); moments in Beijing time."""
    return str(value)[:10] if value else "—"


def task_data(workflow, task: HumanTask) -> dict:
    """The task's own data when the state still holds it, else the instance's current data."""
    spiff = None
    try:
        spiff = workflow.get_task_from_id(UUID(task.spiff_task_id)) if task.spiff_task_id else None
    except (ValueError, KeyError):
        spiff = None
    return spiff.data if spiff is not None else projection.current_data(workflow)


def facts(start_form: dict | None, data: dict) -> list[dict]:
    """The item as registered, in the start form's order: [{label, value, long}]."""
    out = []
    for name, prop in (start_form or {}).get("properties", {}).items():
        value = data.get(name)
        if name in _NOT_FACTS or value in (None, "", []):
            continue
        shown = prop.get("x-labels", {}).get(value, value) if isinstance(value, str) else _text(value)
        out.append({"label": prop.get("title", name), "value": str(shown),
                    "long": prop.get("maxLength", 0) > 200})
    return out


# -- what each step decides on ----------------------------------------------------------------------

def _section(title: str, rows: list[tuple[str, str]] | None = None, **more) -> dict:
    return {"title": title, "rows": [(k, v) for k, v in (rows or []) if v not in (None, "")], **more}


def _assignment(ctx: Context) -> dict:
    return ctx.data.get("assignment") or {}


def _last(records: list[AuditRecord]) -> AuditRecord | None:
    return records[-1] if records else None


def _by(ctx: Context, record: AuditRecord | None) -> str:
    return f"{person(ctx.names, record.actor)}，{ctx.local(record.at)}" if record is not None else ""


def extension_request(ctx: Context) -> list[dict]:
    a = _assignment(ctx)
    requested = ctx.data.get("extension_due_date")
    department = a.get("department")
    record = _last([r for r in ctx.completions(lambda d: d.get("handle_action") == "request_extension")
                    if ctx.task_departments.get(r.task_id or 0) == department])
    extra = ""
    if requested and a.get("due_date"):
        try:
            days = ctx.calendar.working_days_between(  # type: ignore[attr-defined]
                date.fromisoformat(str(a["due_date"])[:10]), date.fromisoformat(str(requested)[:10]))
            extra = f"延长 {days} 个工作日"
        except ValueError:
            extra = ""
    return [_section("延期申请", [
        ("申请单位", f"{department}（{ROLE_LABELS.get(a.get('role'), '承办')}）" if department else ""),
        ("申请人", _by(ctx, record)), ("现办理期限", _date(a.get("due_date"))),
        ("申请延期至", _date(requested)), ("延期天数", extra), ("延期理由", _text(ctx.data.get("extension_reason"))),
        ("审批层级", LEVELS.get(ctx.data.get("extension_level"), "")),
        ("本任务申请次数", f"第 {len(a.get('extensions') or []) + 1} 次" if department else "")],
        highlight=True)]


LEVELS = {"dispatcher": "不超过交办员审批权限，由交办员审批", "office": "超过交办员审批权限，由领导小组办公室审批"}


def visit(ctx: Context) -> list[dict]:
    """The 回访: its window and the earlier attempts that did not reach the enterprise, then the answers."""
    attempts = [a for a in ctx.data.get("visit_attempts") or [] if isinstance(a, dict)]
    return [_section("回访", [("回访期限", _date(ctx.data.get("visit_due_date"))),
                              *[(f"未联系上（{_text(a.get('at'))}，{_text(a.get('method'))}）", _text(a.get("note")))
                                for a in attempts]],
                     highlight=True), *answers(ctx)]


def returned(ctx: Context) -> list[dict]:
    a = _assignment(ctx)
    department = a.get("department")
    record = _last([r for r in ctx.completions(lambda d: d.get("sign_decision") == "return")
                    if ctx.task_departments.get(r.task_id or 0) == department])
    return [_section("退回情况", [("退回单位", department), ("退回人", _by(ctx, record)),
                                  ("退回理由", _text(ctx.data.get("return_reason")))], highlight=True)]


def answers(ctx: Context) -> list[dict]:
    """Every department's answers, oldest first, with who answered when, and the reasons sent back."""
    lead = ctx.data.get("lead_department")
    entries = []
    kinds = {"rework_answer": "整改答复", "consolidated_answer": "汇总答复", "revised_part": "修改后的协办意见"}
    for r in ctx.completions(lambda d: d.get("handle_action") == "answer" or any(d.get(k) for k in kinds)):
        department = ctx.task_departments.get(r.task_id or 0, "")
        data = r.data or {}
        key = next((k for k in kinds if data.get(k)), "answer")
        entries.append({"department": department, "role": "主办" if department == lead else "协办",
                        "kind": kinds.get(key, "答复"), "text": data.get(key) or "",
                        "by": person(ctx.names, r.actor), "at": ctx.local(r.at)})
    sections = [_section("各单位答复", entries=entries, highlight=True)]
    history = [h for h in ctx.data.get("rework_history") or [] if h.get("reason")]
    if history:
        labels = {"send_back": "审核退办", "unsatisfied": "企业不满意", "part_back": "主办退回协办意见"}
        sections.append(_section("退办与重办记录", [(labels.get(h.get("kind"), "退办")
                                                     + (f"（{h['department']}）" if h.get("department") else ""),
                                                     h["reason"]) for h in history]))
    return sections


def rework(ctx: Context) -> list[dict]:
    reason = ctx.data.get("rework_reason")
    return [_section("整改要求", [("退办/重办理由", _text(reason))], highlight=True), *answers(ctx)]


def circular(ctx: Context) -> list[dict]:
    text = ctx.data.get("circular_text") or ""
    rows = [("通报文号", _text(ctx.data.get("circular_number")))]
    if ctx.data.get("circular_approved") is False and ctx.data.get("approval_comment"):
        rows.append(("上次审批退回意见", _text(ctx.data["approval_comment"])))
    return [_section("通报稿", rows, document=document(text), highlight=True)]


def sent_back_circular(ctx: Context) -> list[dict]:
    if ctx.data.get("circular_approved") is False:
        return [_section("审批退回意见", [("意见", _text(ctx.data.get("approval_comment")))], highlight=True)]
    return []


def eligibility(ctx: Context) -> list[dict]:
    assessment = ctx.data.get("assessment") or {}
    if not isinstance(assessment, dict):
        return []
    marks = {True: "符合", False: "不符合", None: "缺少数据"}
    rows = [("判定结论", _text(assessment.get("summary")))]
    rows += [(c.get("label", ""), f"{marks.get(c.get('passed'), '—')}：{c.get('message') or ''}")
             for c in assessment.get("criteria") or []]
    sections = [_section("资格自动判定", rows, highlight=True)]
    if "review_approved" in ctx.data and ctx.task.bpmn_id != "industry_review":
        sections.append(_section("行业主管部门意见", [("是否同意", _text(ctx.data.get("review_approved"))),
                                               ("审核意见", _text(ctx.data.get("review_opinion")))]))
    return sections


def objection(ctx: Context) -> list[dict]:
    return [_section("公示期异议", [("异议内容", _text(ctx.data.get("objection"))),
                                 ("公示截止", _date(ctx.data.get("notice_until")))], highlight=True)]


def notice(ctx: Context) -> list[dict]:
    return [_section("公示", [("公示截止", _date(ctx.data.get("notice_until")))])]


def measure(ctx: Context) -> list[dict]:
    m = ctx.data.get("measure") or {}
    rows = [("措施", f"第 {m.get('no')} 项 {m.get('title') or ''}" if m else ""),
            ("报告期", f"{ctx.data.get('period_start')} 至 {ctx.data.get('period_end')}"),
            ("牵头单位", _text(ctx.data.get("lead_unit"))), ("责任单位", _text(ctx.data.get("contributors")))]
    sections = [_section("措施", rows)]
    contributions = [c for c in ctx.data.get("contributions") or [] if isinstance(c, dict)]
    if contributions:
        sections.append(_section("各责任单位报送", [(c.get("department", ""), _text(c.get("text")))
                                              for c in contributions], highlight=True))
    if ctx.data.get("progress_report"):
        sections.append(_section("牵头单位汇总报告", [("推进情况", _text(ctx.data["progress_report"]))],
                                 highlight=True))
    if ctx.data.get("assessment") == "滞后":
        sections.append(_section("评定", [("评定", "滞后"), ("评定意见", _text(ctx.data.get("assessment_comment")))],
                                 highlight=True))
    return sections


def data_update(ctx: Context) -> list[dict]:
    return [_section("年度数据更新", [("更新年度", _text(ctx.data.get("update_year"))),
                                   ("截止日期", _date(ctx.data.get("update_deadline")))], highlight=True)]


STEP_SECTIONS: dict[str, Callable[[Context], list[dict]]] = {
    "extension_decision.schema.json": extension_request,
    "redispatch.schema.json": returned,
    "review.schema.json": answers,
    "rating.schema.json": visit,
    "office_decision.schema.json": answers,
    "rework.schema.json": rework,
    "circular_approve.schema.json": circular,
    "rectification.schema.json": lambda ctx: [*circular_matter.rectification(ctx), *circular(ctx)],
    "rectification_review.schema.json": lambda ctx: [*circular_matter.rectification_report(ctx), *circular(ctx)],
    "circular_check.schema.json": circular_matter.own_row,
    "circular_resolve.schema.json": circular_matter.objections,
    "circular_draft.schema.json": sent_back_circular,
    "admission_review.schema.json": eligibility,
    "complete_data.schema.json": eligibility,
    "objection_decision.schema.json": objection,
    "notice_objection.schema.json": notice,
    "measure_contribution.schema.json": measure,
    "measure_consolidate.schema.json": measure,
    "measure_assess.schema.json": measure,
    "measure_follow_up.schema.json": measure,
    "data_update.schema.json": data_update,
    "removal_review.schema.json": data_update,
}


def assignment_sections(ctx: Context) -> list[dict]:
    """A department's slot: its earlier returns and extension decisions."""
    a = _assignment(ctx)
    sections = []
    extensions = [e for e in a.get("extensions") or [] if isinstance(e, dict)]
    if extensions:
        sections.append(_section("延期申请记录", [
            (f"申请延期至 {_date(e.get('requested_due_date'))}",
             ("已同意" if e.get("approved") else "未同意") + (f"：{e['comment']}" if e.get("comment") else "")
             + f"（理由：{e.get('reason') or '—'}）") for e in extensions]))
    returns = [r for r in a.get("returns") or [] if isinstance(r, dict)]
    if returns:
        sections.append(_section("此前退回", [(r.get("department", ""), _text(r.get("reason"))) for r in returns]))
    return sections


def build(session: Session, task: HumanTask, workflow, start_form: dict | None, tz, calendar) -> dict:
    """The matter card of a task page: facts, role, what is asked, and the step's decision material."""
    data = task_data(workflow, task)
    audits = list(session.scalars(select(AuditRecord).where(AuditRecord.instance_id == task.instance_id)
                                  .order_by(AuditRecord.id)))
    departments = dict(session.execute(select(HumanTask.id, Department.name)
                                       .join(Department, HumanTask.department_id == Department.id)
                                       .where(HumanTask.instance_id == task.instance_id)).all())
    ctx = Context(session=session, task=task, data=data, names=people(session), tz=tz, calendar=calendar,
                  audits=audits, task_departments=departments)
    # The role is the task's department's own: a dispatcher deciding on a slot's request has none.
    a = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
    department = departments.get(task.id)
    if a:
        role = ROLE_LABELS.get(a.get("role")) if a.get("department") == department else None
    elif department and department == data.get("lead_department"):
        role = "主办"
    else:
        role = "协办" if department in {c.get("department") for c in data.get("co_handlers") or []} else None
    asked = [v for v in (data.get("dispatch_note"), data.get("redispatch_note")) if v]
    lead = data.get("lead_department")
    if role == "主办":
        asked.insert(0, "本单位为主办单位：牵头办理，汇总协办单位意见后答复。")
    elif role == "协办":
        asked.insert(0, f"本单位为协办单位：配合主办单位（{lead}）办理，答复本单位承担的部分。")
    builder = STEP_SECTIONS.get(task.form or "")
    return {"facts": facts(start_form, data), "role": role, "asked": asked,
            "sections": [*assignment_sections(ctx), *(builder(ctx) if builder else [])]}


# -- a circular's text as blocks ----------------------------------------------------------------------

_HEADING = re.compile(r"^[一二三四五六七八九十]+、")
_ITEM = re.compile(r"^\d+[.．、]\s*")


def document(text: str) -> list[dict]:
    """A circular's plain text (engine/policy/circulars) as blocks: the title, headings (一、…), numbered
    lists (1. …) and paragraphs; blank lines separate. [{kind: title|heading|list|p, text | items}]"""
    blocks: list[dict] = []
    for n, raw in enumerate(text.replace("\r\n", "\n").split("\n")):
        line = raw.strip()
        if not line:
            continue
        if n == 0:
            blocks.append({"kind": "title", "text": line})
        elif _HEADING.match(line):
            blocks.append({"kind": "heading", "text": line})
        elif _ITEM.match(line):
            if not blocks or blocks[-1]["kind"] != "list":
                blocks.append({"kind": "list", "items": []})
            blocks[-1]["items"].append(line)  # the number stays: it is a rank (ties share one)
        else:
            blocks.append({"kind": "p", "text": line})
    return blocks
