"""The operations of joint_meeting.bpmn (联席会议), each in the transaction that saves its step, with its audit
record on the meeting's instance:

- ``build_meeting_agenda``: a ``joint_meeting`` row with the agenda built from the open work (agenda.build);
- ``save_meeting_agenda``: the dispatcher's own topics added (an agenda sent back is rebuilt the same way);
- ``approve_meeting_agenda``: the leading-group office's approval;
- ``record_meeting_minutes``: after the meeting, the date, place, chair, attendance, each topic's discussion and
  the decisions (each with its lead unit and deadline); the meeting gets the year's next number
  (联席会议〔2026〕第3次). The decisions are dispatched as items by the service (engine.policy.meetings.service)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, ValidationFailed
from engine.identity.org import DepartmentDirectory
from engine.policy.meetings import agenda
from engine.runtime.operations import OperationContext
from engine.storage.models import AuditRecord, JointMeeting, MeetingDecision

PROCESS = "joint_meeting"
NUMBER_FORMAT = "〔{year}〕第{seq}次"
CATEGORIES = ("用地", "用工", "用能", "配套", "融资", "人才", "其他")
STATUS_LABELS = {"preparing": "议程准备中", "approved": "议程已审定，待召开", "held": "已召开"}


def number_of(meeting: JointMeeting) -> str | None:
    return NUMBER_FORMAT.format(year=meeting.year, seq=meeting.seq) if meeting.seq else None


def _today(ctx: OperationContext) -> date:
    return ctx.now.astimezone(ctx.services.workflows.tz).date()


def _audit(ctx: OperationContext, action: str, data: dict) -> None:
    ctx.session.add(AuditRecord(instance_id=ctx.instance_id, action=action, actor=ctx.actor.username, at=ctx.now,
                                task_name="联席会议", data=data))


def _meeting(ctx: OperationContext) -> JointMeeting:
    meeting = ctx.session.scalar(select(JointMeeting).where(JointMeeting.instance_id == ctx.instance_id))
    if meeting is None:
        raise ValidationFailed({"meeting": "本流程尚未生成联席会议议程"})
    return meeting


def build_agenda(ctx: OperationContext, _params: dict) -> dict:
    topics = agenda.build(ctx.session, _today(ctx))
    meeting = ctx.session.scalar(select(JointMeeting).where(JointMeeting.instance_id == ctx.instance_id))
    if meeting is None:
        meeting = JointMeeting(instance_id=ctx.instance_id, status="preparing", agenda=topics, created_at=ctx.now)
        ctx.session.add(meeting)
    else:
        meeting.agenda = topics
    ctx.session.flush()
    _audit(ctx, "meeting_agenda_built", {"meeting": meeting.id, "topics": len(topics)})
    return {"id": meeting.id, "summary": summary(topics)}


def summary(topics: list[dict]) -> str:
    """The agenda as the dispatcher reads it on the agenda form, one topic a line."""
    lines = [f"{n}. 【{t['kind_label']}】{t['title']}" + (f"（{t['note']}）" if t.get("note") else "")
             for n, t in enumerate(topics, start=1)]
    return "\n".join(lines) or "（本期无自动列入的议题）"


def save_agenda(ctx: OperationContext, params: dict) -> dict:
    meeting = _meeting(ctx)
    built = [t for t in meeting.agenda or [] if t.get("kind") != "added"]
    meeting.agenda = [*built, *agenda.added(params.get("added_topics"))]
    meeting.status = "preparing"
    _audit(ctx, "meeting_agenda_saved", {"meeting": meeting.id, "topics": len(meeting.agenda)})
    return {"summary": summary(meeting.agenda)}


def approve_agenda(ctx: OperationContext, _params: dict) -> None:
    meeting = _meeting(ctx)
    meeting.status, meeting.approved_by = "approved", ctx.actor.username
    _audit(ctx, "meeting_agenda_approved", {"meeting": meeting.id})


def _decisions(ctx: OperationContext, meeting: JointMeeting, held_on: date, given) -> list[MeetingDecision]:
    directory = DepartmentDirectory.of(ctx.session)
    out = []
    for n, d in enumerate(given or (), start=1):
        lead = directory.find(str(d.get("lead_department") or ""))
        if lead is None:
            raise ValidationFailed({"decisions": f"第{n}项议定事项的「主办单位」{d.get('lead_department')!r} 不存在"})
        try:
            due = date.fromisoformat(str(d.get("due_date")))
        except ValueError:
            raise ValidationFailed({"decisions": f"第{n}项议定事项的「办理期限」应为日期"}) from None
        if due <= held_on:
            raise ValidationFailed({"decisions": f"第{n}项议定事项的「办理期限」应晚于会议日期"})
        category = d.get("category") if d.get("category") in CATEGORIES else "其他"
        out.append(MeetingDecision(meeting_id=meeting.id, position=n, topic=str(d.get("topic") or "")[:200],
                                   text=str(d.get("text") or ""), category=category,
                                   enterprise_name=str(d.get("enterprise_name") or "联席会议议定事项")[:100],
                                   lead_department_id=lead.id, due_date=due))
    return out


def allocate_number(session: Session, meeting: JointMeeting, year: int, attempts: int = 10) -> str:
    """The year's next meeting number; the unique (year, seq) lets one of two at once through, the other
    (its savepoint rolled back) takes the next."""
    for _ in range(attempts):
        seq = (session.scalar(select(func.max(JointMeeting.seq)).where(JointMeeting.year == year)) or 0) + 1
        try:
            with session.begin_nested():
                meeting.year, meeting.seq = year, seq
                session.flush()
            return NUMBER_FORMAT.format(year=year, seq=seq)
        except IntegrityError:
            continue
    raise Conflict("联席会议编号分配冲突，请稍后重试")


def record_minutes(ctx: OperationContext, params: dict) -> dict:
    meeting = _meeting(ctx)
    if meeting.status == "held":
        raise Conflict("本次联席会议的纪要已记录")
    try:
        held_on = date.fromisoformat(str(params.get("held_on")))
    except ValueError:
        raise ValidationFailed({"held_on": "「会议日期」应为日期 YYYY-MM-DD"}) from None
    if held_on > _today(ctx):
        raise ValidationFailed({"held_on": "「会议日期」不能晚于今天"})
    decisions = _decisions(ctx, meeting, held_on, params.get("decisions"))
    meeting.held_on, meeting.place, meeting.chair = held_on, params.get("place"), params.get("chair")
    meeting.attendance = list(params.get("attendance") or [])
    meeting.topics = list(params.get("topics") or [])
    meeting.status, meeting.recorded_by, meeting.recorded_at = "held", ctx.actor.username, ctx.now
    number = allocate_number(ctx.session, meeting, held_on.year)
    ctx.session.add_all(decisions)
    ctx.session.flush()
    _audit(ctx, "meeting_minutes_recorded", {"meeting": meeting.id, "number": number, "decisions": len(decisions)})
    return {"number": number, "decisions": len(decisions)}
