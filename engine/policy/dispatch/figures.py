"""The evaluation figures of departments for a period: one definition each, used by circulars.

A period is a range of Beijing-time dates [start, end], both included; every figure counts only
what happened before the period's end, so a circular's figures can be reproduced later from the
data as of that moment. A department's "step" is its part in a dispatched item: its 签收 task
(stage ``sign``), then its 办理答复 task (stage ``handle``), with the department's deadline. Steps
are chosen by their stage and by their process (problem_dispatch), never by element ids, so another
process's tasks never count. The escalation figures are one per level of the ladder
(engine.deadlines.ladder), counting every firing against the unit. A pause of a step's clock (挂起,
engine.deadlines.pauses) moves its deadline when it ends, so 按期 is judged against the moved deadline,
and a step whose clock is stopped at the period's end is not overdue then.

The same pass that counts can keep what it counted (``compute(..., with_members=True)``): per department
and figure the list of items behind the count (the 通报 and the dashboard drill down to it), so a count is
always the length of its list (挂起工作日: the sum of its pauses' days), and a rate links to the lists of
its numerator and denominator (RATE_PARTS).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.deadlines import ladder
from engine.deadlines.calendar_store import calendar_of
from engine.deadlines.pauses import within
from engine.policy.enterprise_requests.service import by_enterprise
from engine.storage.models import (
    AuditRecord,
    Department,
    Escalation,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    TaskPause,
)

PROCESS = "problem_dispatch"
# The stages (a user task's ``stage`` property) the figures read. 整改答复 (stage rework) is a
# department's step too: it counts as overdue, not as a handling task due or closed.
SIGN, HANDLE, REWORK, REVIEW, RATING = "sign", "handle", "rework", "review", "rating"
DEPARTMENT_STEPS = (SIGN, HANDLE, REWORK)


@dataclass(frozen=True)
class Figure:
    id: str
    label: str
    definition: str
    # The plan's clause the figure serves (engine.plan): every one feeds the circulars of the
    # 监测评价及检查通报机制 and the 实绩考核 (四（二）).
    clause: str = "四（二）"


_FIGURES = [
    Figure("received", "收到交办", "期内交给本单位的签收任务数（含改派给本单位的）"),
    Figure("returns", "退回", "期内本单位以“不属本单位职责”退回的交办数"),
    Figure("extension_requests", "延期申请", "期内本单位提出的延期申请数"),
    Figure("due", "应办结", "办理期限（含批准延期后的期限）落在期内的本单位办理任务数"),
    Figure("closed", "已办结", "期内本单位答复完毕的办理任务数"),
    Figure("closed_on_time", "按期办结", "期内答复、且答复时间不晚于期限的办理任务数"),
    Figure("on_time_rate", "按期办结率", "按期办结 ÷ 已办结（%）；无办结时不计"),
    Figure("overdue_now", "逾期未办结", "截至期末已过期限而仍未办结的本单位签收、办理任务数"),
    Figure("first_time_rate", "一次办结率", "本单位主办、期内审核通过的事项中，未经退办即通过的比例（%）"),
    Figure("satisfaction_rate", "满意率", "本单位主办、期内回访（联系上企业）的事项中，满意和基本满意的比例（%）"),
    Figure("solved_rate", "解决率",
           "本单位主办、期内回访（联系上企业）的事项中，企业认为已解决的比例（%）；部分解决、未解决不计为解决"),
    Figure("enterprise_satisfaction_rate", "企业自评满意率",
           "本单位主办、期内企业在企业服务平台自行评价（企业自评）的事项中，满意和基本满意的比例（%）；"
           "满意率含企业自评和工作人员回访两种"),
    Figure("enterprise_solved_rate", "企业自评解决率",
           "本单位主办、期内企业自评的事项中，企业认为已解决的比例（%）；解决率含企业自评和工作人员回访两种"),
    Figure("not_visited", "未回访",
           "本单位主办、期内因回访期满仍未联系上企业而按未回访办结的事项数（不计入满意率、解决率）"),
    Figure("pauses", "挂起", "期内本单位因等待企业补充材料而挂起（暂停计时）的次数"),
    Figure("paused_days", "挂起工作日",
           "期内本单位任务处于挂起状态的工作日数（挂起次日起算，至恢复当日；期末仍挂起的计至期末）"),
    Figure("pauses_over_limit", "挂起超期", "期内挂起超过上限工作日数的次数（超过的天数不顺延期限）"),
]
RATES = ("on_time_rate", "first_time_rate", "satisfaction_rate", "solved_rate", "enterprise_satisfaction_rate",
         "enterprise_solved_rate")
# Each rate's (numerator, denominator) counts; the ones that are no column of their own are labelled here.
RATE_PARTS = {"on_time_rate": ("closed_on_time", "closed"), "first_time_rate": ("accepted_first_time", "accepted"),
              "satisfaction_rate": ("satisfied", "rated"), "solved_rate": ("solved", "solved_asked"),
              "enterprise_satisfaction_rate": ("enterprise_satisfied", "enterprise_rated"),
              "enterprise_solved_rate": ("enterprise_solved", "enterprise_rated")}
PART_LABELS = {"accepted": "期内审核通过", "accepted_first_time": "未经退办即审核通过", "rated": "期内回访联系上企业",
               "satisfied": "满意和基本满意", "solved_asked": "回访问及解决情况", "solved": "企业认为已解决",
               "enterprise_rated": "期内企业自评", "enterprise_satisfied": "企业自评满意和基本满意",
               "enterprise_solved": "企业自评已解决"}
# Who gave a rating, as the evidence lists mark it: the enterprise in the portal (its actor, which no staff
# account can be: engine.policy.enterprise_requests) or staff recording a 回访.
BY_ENTERPRISE, BY_STAFF = "（企业自评）", "（工作人员回访）"
# The 回访 answers: satisfied (stored as rating_value before solved and satisfied were asked apart) and solved.
SATISFIED, SOLVED = ("满意", "基本满意"), "已解决"
NOT_VISITED = "已办结（未回访）"


def figure_list() -> list[Figure]:
    """The figures, with one per level of the ladder in force (its count in the period) at the end."""
    return _FIGURES + [Figure(level.figure, level.label, level.figure_definition) for level in ladder.current().levels]


def labels() -> dict[str, str]:
    return {f.id: f.label for f in figure_list()}


def _dispatch_instances():
    """The ids of problem_dispatch's instances, as a sub-select (process_instance.version_id is indexed)."""
    versions = (select(ProcessVersion.id).join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
                .where(ProcessDefinition.key == PROCESS))
    return select(ProcessInstance.id).where(ProcessInstance.version_id.in_(versions))


def period_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(0), tz), datetime.combine(end + timedelta(days=1), time(0), tz)


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


class Tally:
    """Counts per department and figure; with ``members``, also what each count is made of: (instance id,
    step, the moment that made it count, amount, note), resolved to business keys once at the end."""

    def __init__(self, members: bool = False):
        self.counts: dict[int, Counter] = defaultdict(Counter)
        self.members: dict[int, dict[str, list]] | None = defaultdict(lambda: defaultdict(list)) if members else None

    def add(self, department_id: int, figure: str, instance_id: int, step: str, at: datetime | None,
            amount: int = 1, note: str = "") -> None:
        if not amount:
            return
        self.counts[department_id][figure] += amount
        if self.members is not None:
            self.members[department_id][figure].append((instance_id, step, at, amount, note))

    def resolve(self, session: Session, names: dict[int, str], tz: ZoneInfo) -> dict[str, dict[str, list[dict]]]:
        """The members by department name and figure, each {business_key, title, instance_id, step, at, amount,
        note} (at: Beijing time), in the order they were counted; one query for the items' keys."""
        if self.members is None:
            return {}
        ids = {m[0] for figures in self.members.values() for found in figures.values() for m in found}
        items = {i: (key, title) for i, key, title in session.execute(
            select(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.title)
            .where(ProcessInstance.id.in_(ids)))} if ids else {}
        return {names[dep]: {figure: [
            {"business_key": items.get(i, ("", ""))[0], "title": items.get(i, ("", ""))[1], "instance_id": i,
             "step": step, "at": f"{at.astimezone(tz):%Y-%m-%d %H:%M}" if at else "", "amount": amount, "note": note}
            for i, step, at, amount, note in found] for figure, found in figures.items()}
            for dep, figures in self.members.items() if dep in names}


def _day_of(moment: datetime | None, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}" if moment is not None else "—"


def _steps(stages: tuple[str, ...], *conditions):
    """problem_dispatch's user tasks at ``stages``."""
    return (select(HumanTask).where(HumanTask.kind == "bpmn", HumanTask.stage.in_(stages),
                                    HumanTask.instance_id.in_(_dispatch_instances()), *conditions))


def _completions(stages: tuple[str, ...], *conditions):
    """What was submitted at problem_dispatch's tasks of ``stages``: (submitted data, task, audit record)."""
    return (select(AuditRecord.data, HumanTask, AuditRecord)
            .join(HumanTask, AuditRecord.task_id == HumanTask.id)
            .where(AuditRecord.action == "complete", HumanTask.kind == "bpmn", HumanTask.stage.in_(stages),
                   HumanTask.instance_id.in_(_dispatch_instances()), *conditions))


def _department_steps(session: Session, rows: Tally, lo: datetime, hi: datetime, tz: ZoneInfo) -> None:
    for t in session.scalars(_steps((SIGN,), HumanTask.created_at >= lo, HumanTask.created_at < hi)):
        rows.add(t.department_id, "received", t.instance_id, t.name, t.created_at, note="交办")
    for data, t, audit in session.execute(_completions((SIGN, HANDLE), AuditRecord.at >= lo, AuditRecord.at < hi)):
        data = data or {}
        if t.stage == SIGN and data.get("sign_decision") == "return":
            rows.add(t.department_id, "returns", t.instance_id, t.name, audit.at, note=data.get("return_reason") or "")
        elif t.stage == HANDLE and data.get("handle_action") == "request_extension":
            rows.add(t.department_id, "extension_requests", t.instance_id, t.name, audit.at,
                     note=f"申请延期至 {data.get('extension_due_date') or '—'}")
        elif t.stage == HANDLE and data.get("handle_action") == "answer":
            note = f"期限 {_day_of(t.due_at, tz)}"
            rows.add(t.department_id, "closed", t.instance_id, t.name, audit.at, note=note)
            if t.due_at is not None and t.completed_at is not None and t.completed_at <= t.due_at:
                rows.add(t.department_id, "closed_on_time", t.instance_id, t.name, audit.at, note=note)
    # Due: the latest handling task of each department step whose deadline falls in the period.
    latest: dict[str, HumanTask] = {}
    for t in session.scalars(_steps((HANDLE,), HumanTask.created_at < hi)):
        key = t.deadline_key or str(t.id)
        if key not in latest or t.id > latest[key].id:
            latest[key] = t
    for t in sorted(latest.values(), key=lambda t: t.id):
        if t.due_at is not None and lo <= t.due_at < hi:
            rows.add(t.department_id, "due", t.instance_id, t.name, t.due_at, note="期限")
    stopped = stopped_at(session, hi)
    for t in session.scalars(_steps(DEPARTMENT_STEPS, HumanTask.created_at < hi, HumanTask.due_at < hi)
                             .order_by(HumanTask.id)):
        if (t.completed_at is None or t.completed_at >= hi) and t.id not in stopped:  # still open (and running) then
            rows.add(t.department_id, "overdue_now", t.instance_id, t.name, t.due_at, note="期限，期末仍未办结")


def stopped_at(session: Session, moment: datetime) -> set[int]:
    """The tasks whose clock was stopped at ``moment``: paused before it, not resumed nor past the limit yet."""
    return set(session.scalars(select(TaskPause.task_id).where(
        TaskPause.paused_at < moment, or_(TaskPause.resumed_at.is_(None), TaskPause.resumed_at >= moment),
        or_(TaskPause.over_limit_at.is_(None), TaskPause.over_limit_at >= moment))))


def _pauses(session: Session, rows: Tally, lo: datetime, hi: datetime, start: date, end: date,
            tz: ZoneInfo) -> None:
    """Pauses of the unit's steps: begun in the period, their working days in it, those that ran past their limit."""
    calendar = calendar_of(session)
    found = session.execute(
        select(TaskPause, HumanTask.completed_at, HumanTask.name).join(HumanTask, TaskPause.task_id == HumanTask.id)
        .where(TaskPause.instance_id.in_(_dispatch_instances()), TaskPause.paused_at < hi,
               or_(TaskPause.resumed_at.is_(None), TaskPause.resumed_at >= lo)).order_by(TaskPause.id))
    for pause, completed_at, step in found:
        dep, instance = pause.department_id, pause.instance_id
        if lo <= pause.paused_at:
            rows.add(dep, "pauses", instance, step, pause.paused_at, note="挂起")
        if pause.over_limit_at is not None and lo <= pause.over_limit_at < hi:
            rows.add(dep, "pauses_over_limit", instance, step, pause.over_limit_at, note="挂起超过上限")
        ended = completed_at if pause.resumed_at is None else None  # the task closed while paused
        days = within(calendar, pause, tz, start, end, ended)
        rows.add(dep, "paused_days", instance, step, pause.paused_at, amount=days, note=f"期内挂起 {days} 个工作日")


def _reviews_and_ratings(session: Session, rows: Tally, lo: datetime, hi: datetime) -> None:
    """Review and rating of items, by their lead unit."""
    reviews = session.execute(
        _completions((REVIEW, RATING), AuditRecord.at < hi)
        .add_columns(ProcessInstance.lead_department_id)
        .join(ProcessInstance, AuditRecord.instance_id == ProcessInstance.id)
        .order_by(AuditRecord.id)).all()
    sent_back: set[int] = set()
    for data, task, audit, lead in reviews:
        data, instance_id, at = data or {}, audit.instance_id, audit.at
        if data.get("review_decision") == "send_back":
            sent_back.add(instance_id)
        elif data.get("review_decision") == "accept" and at >= lo and lead is not None:
            rows.add(lead, "accepted", instance_id, task.name, at, note="审核通过")
            if instance_id not in sent_back:
                rows.add(lead, "accepted_first_time", instance_id, task.name, at, note="未经退办")
        elif satisfaction(data) and at >= lo and lead is not None:
            _rating(rows, lead, instance_id, task.name, at, data, by_enterprise(audit.actor))
    for instance_id, lead, done in session.execute(
            select(ProcessInstance.id, ProcessInstance.lead_department_id, ProcessInstance.completed_at).where(
            ProcessInstance.id.in_(_dispatch_instances()), ProcessInstance.item_status == NOT_VISITED,
            ProcessInstance.completed_at >= lo, ProcessInstance.completed_at < hi).order_by(ProcessInstance.id)):
        if lead is not None:
            rows.add(lead, "not_visited", instance_id, "回访", done, note=NOT_VISITED)


def _rating(rows: Tally, lead: int, instance_id: int, step: str, at: datetime, data: dict, own: bool) -> None:
    """One rating: in 满意率/解决率 whoever gave it, in the 企业自评 figures too when the enterprise did."""
    rated, solved, way = str(satisfaction(data)), data.get("solved"), BY_ENTERPRISE if own else BY_STAFF
    counted = [("rated", rated), *([("satisfied", rated)] if rated in SATISFIED else [])]
    if solved:  # asked since the 回访 record (older ratings have no answer to it)
        counted += [("solved_asked", solved), *([("solved", solved)] if solved == SOLVED else [])]
    if own:
        counted += [(f"enterprise_{figure}", note) for figure, note in counted if figure != "solved_asked"]
    for figure, note in counted:
        rows.add(lead, figure, instance_id, step, at, note=f"{note}{way}")


def satisfaction(data: dict) -> str | None:
    """The enterprise's satisfaction in a 回访 record: ``satisfied``, or the old ``rating_value``; none when
    the enterprise was not reached."""
    if data.get("visit_reached") == "unreachable":
        return None
    return data.get("satisfied") or data.get("rating_value")


def _escalations(session: Session, rows: Tally, lo: datetime, hi: datetime) -> None:
    """Firings of each level of the ladder against the department, whatever the process (a 督办 on a
    measure report names the unit as much as one on a dispatched problem)."""
    steps = ladder.current()
    for e, step in session.execute(select(Escalation, HumanTask.name).join(HumanTask, Escalation.task_id == HumanTask.id)
                                   .where(Escalation.fired_at >= lo, Escalation.fired_at < hi).order_by(Escalation.id)):
        level = steps.level(e.level)
        if level is not None:
            rows.add(e.department_id, level.figure, e.instance_id, step, e.fired_at, note=level.label)


def rank(table: list[dict]) -> tuple[list[dict], list[str]]:
    """The rows in rank order, numbered (on-time rate higher first, none last; then fewer overdue, then fewer
    督办), and the units the figures name for criticism (any 督办). Also after a correction of the table."""
    supervised = ladder.current().supervision.figure
    ranked = sorted(table, key=lambda r: (-(r["on_time_rate"] if r["on_time_rate"] is not None else -1),
                                           r["overdue_now"], r.get(supervised, 0), r["department"]))
    for position, row in enumerate(ranked, 1):
        row["rank"] = position
    return ranked, [r["department"] for r in ranked if r.get(supervised, 0) > 0]


def recount(row: dict, corrected: set[str]) -> None:
    """A row whose counts were corrected: the rates whose both parts are columns follow them, unless the rate
    was corrected itself."""
    for rate, (part, whole) in RATE_PARTS.items():
        if rate not in corrected and (part in corrected or whole in corrected) and part in row and whole in row:
            row[rate] = _rate(int(row[part]), int(row[whole]))


def compute(session: Session, start: date, end: date, tz: ZoneInfo, with_members: bool = False) -> dict:
    """Figures per department for the period, plus the rankings and who is to be named; ``with_members``: also
    ``evidence``, {department: {figure: [items counted]}} (Tally.resolve), from the same pass."""
    lo, hi = period_bounds(start, end, tz)
    departments = {d.id: d.name for d in session.scalars(select(Department).order_by(Department.sort_order))}
    tally = Tally(with_members)
    _department_steps(session, tally, lo, hi, tz)
    _reviews_and_ratings(session, tally, lo, hi)
    _escalations(session, tally, lo, hi)
    _pauses(session, tally, lo, hi, start, end, tz)
    rows = tally.counts

    figures = figure_list()
    table = []
    for dep_id, name in departments.items():
        c = rows.get(dep_id, Counter())
        row: dict[str, Any] = {"department": name, **{f.id: c.get(f.id, 0) for f in figures}}
        for rate, (part, whole) in RATE_PARTS.items():
            row[rate] = _rate(c[part], c[whole])
        if any(row[f.id] for f in figures if f.id not in RATES):
            table.append(row)
    ranked, named = rank(table)
    result = {"period": [start.isoformat(), end.isoformat()], "table": ranked, "named_for_criticism": named,
              "definitions": [{"id": f.id, "label": f.label, "definition": f.definition} for f in figures]}
    if with_members:
        result["evidence"] = tally.resolve(session, departments, tz)
    return result


def overdue_items(session: Session, start: date, end: date, tz: ZoneInfo) -> list[dict]:
    """Steps still overdue at the period's end, for the circular's list."""
    _, hi = period_bounds(start, end, tz)
    stopped = stopped_at(session, hi)
    rows = session.execute(
        select(HumanTask, ProcessInstance.business_key, ProcessInstance.title, Department.name)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .join(Department, HumanTask.department_id == Department.id)
        .where(HumanTask.kind == "bpmn", HumanTask.stage.in_(DEPARTMENT_STEPS),
               HumanTask.instance_id.in_(_dispatch_instances()), HumanTask.created_at < hi, HumanTask.due_at < hi)
        .order_by(HumanTask.due_at)).all()
    return [{"business_key": key, "title": title, "department": dep, "step": t.name,
             "due": t.due_at.astimezone(tz).date().isoformat(), "escalation_level": t.escalation_level}
            for t, key, title, dep in rows if (t.completed_at is None or t.completed_at >= hi) and t.id not in stopped]
