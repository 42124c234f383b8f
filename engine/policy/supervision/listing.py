"""The operations of listed_supervision.bpmn (挂牌督办), each in the transaction that saves its step:

- ``open_listed_supervision``: the item must be an open problem item with a lead unit and no listing open;
  the new deadline a future working day; the slip 蓝/黄/红. A ``listed_supervision`` row is kept.
- ``issue_supervision_letter``: the 督办函 gets the year's next number, with the 批示 when a leader gave one;
  the first report falls due; the lead unit's liaisons and heads are told at once, with a link.
- ``record_supervision_report``: the lead unit's progress report (督办回复).
- ``review_supervision_report``: the office continues, raises the slip's colour or lifts the listing (and
  may name the unit in the circular); the next report falls due.

And what ends a listing when its item closes (a completion handler of problem_dispatch).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, ValidationFailed
from engine.identity import districts
from engine.runtime.operations import OperationContext, day_param, int_param
from engine.storage.models import (
    AuditRecord,
    CircularNaming,
    Department,
    HumanTask,
    ListedSupervision,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    SupervisionReport,
    User,
    UserRole,
)

PROCESS, ITEM_PROCESS = "listed_supervision", "problem_dispatch"
NUMBER_FORMAT = "{place}专精特新督〔{year}〕{seq}号"  # {place}: the district's short name (黔江)
COLOURS = ("蓝", "黄", "红")  # in rising order: a slip is raised, never lowered
OPEN = ("listing", "active")
STATUS_LABELS = {"listing": "督办函签发中", "active": "挂牌督办中", "lifted": "已解除督办", "closed": "事项已办结，督办结束"}
DECISIONS = {"continue": "继续督办", "raise": "升级督办单颜色", "lift": "解除督办"}
MAX_EVERY = 30


def is_item(session: Session, instance: ProcessInstance) -> bool:
    return session.scalar(select(ProcessDefinition.key).join(ProcessVersion)
                          .where(ProcessVersion.id == instance.version_id)) == ITEM_PROCESS


def open_listing(session: Session, item_id: int) -> ListedSupervision | None:
    return session.scalar(select(ListedSupervision).where(ListedSupervision.item_id == item_id,
                                                          ListedSupervision.status.in_(OPEN)).limit(1))


def _calendar(ctx: OperationContext):
    return ctx.services.workflows.planner(ctx.session).calendar


def _today(ctx: OperationContext) -> date:
    return ctx.now.astimezone(ctx.services.workflows.tz).date()


def _audit(session: Session, listing: ListedSupervision, action: str, actor: str, now: datetime, data: dict) -> None:
    """On the item's own history, where its readers look."""
    session.add(AuditRecord(instance_id=listing.item_id, action=action, actor=actor, at=now, task_name="挂牌督办",
                            data={"listing": listing.id, **data}))


def _item(session: Session, key: str) -> ProcessInstance:
    item = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key)) if key else None
    if item is None or not is_item(session, item):
        raise ValidationFailed({"item_key": f"「事项编号」{key or '（空）'} 不是问题交办事项"})
    if item.status != "running":
        raise ValidationFailed({"item_key": f"事项 {key} 已办结，不能挂牌督办"})
    if item.lead_department_id is None:
        raise ValidationFailed({"item_key": f"事项 {key} 尚未交办主办单位，不能挂牌督办"})
    current = open_listing(session, item.id)
    if current is not None:
        raise ValidationFailed({"item_key": f"事项 {key} 已在挂牌督办中（{current.number or '督办函签发中'}）"})
    return item


def open_listed(ctx: OperationContext, params: dict) -> dict:
    session = ctx.session
    item = _item(session, str(params.get("item_key") or "").strip())
    errors = {}
    colour = params.get("colour")
    if colour not in COLOURS:
        errors["slip_colour"] = "「督办单颜色」的取值必须是：蓝、黄、红"
    deadline = day_param(params, "deadline")
    if deadline <= _today(ctx) or not _calendar(ctx).is_workday(deadline):
        errors["new_deadline"] = f"「新的办理期限」须为今天之后的工作日（{deadline.isoformat()} 不是）"
    every = int_param(params, "report_every")
    if not 1 <= every <= MAX_EVERY:
        errors["report_every_working_days"] = f"「督办回复间隔」应为 1 到 {MAX_EVERY} 个工作日"
    reason = str(params.get("reason") or "").strip()
    if len(reason) < 2:
        errors["listing_reason"] = "「督办事由」至少需要 2 个字"
    if errors:
        raise ValidationFailed(errors, "挂牌督办未发起")
    listing = ListedSupervision(item_id=item.id, instance_id=ctx.instance_id, lead_department_id=item.lead_department_id,
                                status="listing", colour=colour, reason=reason[:2000], deadline=deadline,
                                report_every=every, started_at=ctx.now, started_by=ctx.actor.username,
                                named_in_circular=False)
    session.add(listing)
    own = session.get(ProcessInstance, ctx.instance_id)
    if own is not None:  # the listing's own title names the matter (its tasks' notices say it)
        own.title, own.subject = f"挂牌督办：{item.title or item.business_key}"[:200], item.subject
    session.flush()
    lead = session.get(Department, item.lead_department_id).name
    _audit(session, listing, "listed", ctx.actor.username, ctx.now,
           {"department": lead, "colour": colour, "deadline": deadline.isoformat(), "reason": listing.reason})
    return {"id": listing.id, "lead_unit": lead, "business_key": item.business_key,
            "matter": item.title or item.business_key}


def _own(ctx: OperationContext, params: dict) -> ListedSupervision:
    """The listing of this very instance (a diagram acts on its own listing, never another's)."""
    listing_id = int_param(params, "listing_id")
    listing = ctx.session.get(ListedSupervision, listing_id) if 0 < listing_id < 2**31 else None
    if listing is None or listing.instance_id != ctx.instance_id:
        raise ValidationFailed({"listing_id": f"挂牌督办 {listing_id} 不是本流程实例（{ctx.instance_id}）的"})
    return listing


def allocate_number(session: Session, listing: ListedSupervision, year: int, attempts: int = 10) -> str:
    """The year's next 督办函 number, in this transaction. Two issuing at once compute the same next
    number; the unique (year, seq) lets one of them through and the other, its savepoint rolled back,
    takes the next (on PostgreSQL it waits for the first to commit, then sees its number)."""
    for _ in range(attempts):
        seq = (session.scalar(select(func.max(ListedSupervision.seq)).where(ListedSupervision.year == year)) or 0) + 1
        try:
            with session.begin_nested():
                listing.year, listing.seq = year, seq
                listing.number = NUMBER_FORMAT.format(year=year, seq=seq, place=districts.place_of())
                session.flush()
            return listing.number
        except IntegrityError:
            continue
    raise Conflict("督办函编号分配冲突，请稍后重试")


def next_due(calendar, since: date, every: int, deadline: date, today: date) -> date:
    """A report's due day: ``every`` working days after ``since``, not past the new deadline while that is
    ahead (reports go on after it, at the same interval, until the office lifts the listing); never today
    or earlier (a review made late counts from today)."""
    due = calendar.add_working_days(since, every)
    if since < deadline:
        due = min(due, deadline)
    if due <= today:
        due = calendar.add_working_days(today, every)
        due = min(due, deadline) if today < deadline else due
    return due


def issue_letter(ctx: OperationContext, params: dict) -> dict:
    session = ctx.session
    listing = _own(ctx, params)
    if listing.status != "listing":
        raise Conflict(f"督办函已签发（{listing.number}）")
    instruction = str(params.get("instruction") or "").strip()
    if instruction:
        listing.instruction, listing.instruction_by, listing.instruction_at = instruction[:2000], ctx.actor.username, \
            ctx.now
    today = _today(ctx)
    allocate_number(session, listing, today.year)
    listing.status, listing.issued_at, listing.issued_by = "active", ctx.now, ctx.actor.username
    listing.next_report_due = next_due(_calendar(ctx), today, listing.report_every, listing.deadline, today)
    listing.first_report_due = listing.next_report_due
    told = _tell_lead_unit(ctx, listing)
    _audit(session, listing, "listing_letter", ctx.actor.username, ctx.now,
           {"number": listing.number, "instruction": listing.instruction, "told": told,
            "report_due": listing.next_report_due.isoformat()})
    return {"number": listing.number, "report_due": listing.next_report_due.isoformat()}


def _tell_lead_unit(ctx: OperationContext, listing: ListedSupervision) -> list[str]:
    """The lead unit's liaisons and heads hear of the letter at once, with a link to the item."""
    from engine.localtime import chinese_date
    from notifications.outbox import Notice

    session, services = ctx.session, ctx.services
    item = session.get(ProcessInstance, listing.item_id)
    department = session.get(Department, listing.lead_department_id)
    users = list(session.scalars(select(User).join(UserRole).where(
        User.department_id == listing.lead_department_id, User.active.is_(True),
        UserRole.role.in_(("liaison", "department_head"))).order_by(User.id)).unique())
    leader = session.scalar(select(User.display_name).where(User.username == listing.instruction_by)) \
        if listing.instruction_by else None
    context = {"number": listing.number, "matter": item.title or item.business_key, "business_key": item.business_key,
               "department": department.name, "colour": listing.colour, "reason": listing.reason,
               "deadline": chinese_date(listing.deadline), "every": listing.report_every,
               "report_due": chinese_date(listing.next_report_due), "instruction": listing.instruction or "",
               "leader": leader or ""}
    link = f"{services.settings.base_url.rstrip('/')}/items/{item.id}"
    services.notifier.notify(session, Notice(
        key=f"listing:{listing.id}", template="supervision_listed", context=context, link=link,
        data={"event": "supervision_listed", "number": listing.number, "business_key": item.business_key,
              "colour": listing.colour, "deadline": listing.deadline.isoformat()}),
        users, listing.lead_department_id, ctx.now)
    return [u.username for u in users]


def record_report(ctx: OperationContext, params: dict) -> dict:
    listing = _own(ctx, params)
    if listing.status != "active":
        raise Conflict(f"该挂牌督办{STATUS_LABELS.get(listing.status, listing.status)}，不再接收督办回复")
    text = str(params.get("text") or "").strip()
    if len(text) < 2:
        raise ValidationFailed({"report_text": "「督办回复内容」至少需要 2 个字"})
    report = SupervisionReport(listing_id=listing.id, due_date=day_param(params, "due_date"), submitted_at=ctx.now,
                               submitted_by=ctx.actor.username, progress=str(params.get("progress") or "")[:16] or None,
                               text=text[:4000])
    listing.next_report_due = None  # the office reviews it first
    ctx.session.add(report)
    ctx.session.flush()
    return {"id": report.id}


def review_report(ctx: OperationContext, params: dict) -> dict:
    session = ctx.session
    listing = _own(ctx, params)
    report = session.get(SupervisionReport, int_param(params, "report_id"))
    if report is None or report.listing_id != listing.id or report.decision is not None:
        raise Conflict("该督办回复已审阅，或不属于本挂牌督办")
    decision = params.get("decision")
    if decision not in DECISIONS:
        raise ValidationFailed({"review_decision": "「审阅结果」的取值必须是：" + "、".join(DECISIONS.values())})
    comment = str(params.get("comment") or "").strip() or None
    if decision == "raise":
        colour = params.get("colour")
        if colour not in COLOURS or COLOURS.index(colour) <= COLOURS.index(listing.colour):
            raise ValidationFailed({"raise_colour": f"只能升级为比当前（{listing.colour}色）更高的颜色"})
        listing.colour = colour
    report.decision, report.colour, report.review_comment = decision, listing.colour, comment
    report.reviewed_at, report.reviewed_by = ctx.now, ctx.actor.username
    named = bool(params.get("name_in_circular")) and decision == "lift"
    if decision == "lift":
        end(session, listing, "lifted", ctx.actor.username, ctx.now, comment)
        if named:
            _name(session, listing, ctx.actor.username, ctx.now, comment or listing.reason)
    else:
        today = _today(ctx)
        listing.next_report_due = next_due(_calendar(ctx), report.due_date, listing.report_every, listing.deadline,
                                           today)
    _audit(session, listing, f"listing_{decision}", ctx.actor.username, ctx.now,
           {"colour": listing.colour, "comment": comment, "named": named,
            "report_due": listing.next_report_due.isoformat() if listing.next_report_due else None})
    return {"colour": listing.colour, "lifted": decision == "lift",
            "next_report_due": listing.next_report_due.isoformat() if listing.next_report_due else None}


def end(session: Session, listing: ListedSupervision, status: str, by: str, now: datetime, note: str | None) -> None:
    listing.status, listing.ended_at, listing.ended_by, listing.end_note = status, now, by, note
    listing.next_report_due = None


def _name(session: Session, listing: ListedSupervision, by: str, now: datetime, reason: str) -> None:
    item = session.get(ProcessInstance, listing.item_id)
    listing.named_in_circular = True
    session.add(CircularNaming(named_at=now, named_by=by, department_id=listing.lead_department_id, source="listed",
                               item_id=listing.item_id, listing_id=listing.id, colour=listing.colour,
                               matter=(item.title or item.business_key)[:200], reason=reason))


def close_with_item(session: Session, item: ProcessInstance, _data: dict, now: datetime) -> None:
    """The item closed (or was given up by an administrator): its open listing ends with it, and the listing's
    instance is cancelled with its open tasks (a report no longer due), each audited."""
    for listing in session.scalars(select(ListedSupervision).where(ListedSupervision.item_id == item.id,
                                                                   ListedSupervision.status.in_(OPEN))):
        ended = "事项已撤销" if item.status == "cancelled" else "事项已办结"
        end(session, listing, "closed", "system", now, f"{ended}，挂牌督办随之结束")
        instance = session.get(ProcessInstance, listing.instance_id)
        if instance is not None and instance.status == "running":
            instance.status, instance.next_timer_at, instance.updated_at = "cancelled", None, now
            instance.item_status = STATUS_LABELS["closed"]
            for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                                HumanTask.status.in_(("to_sign", "in_progress")))):
                task.status, task.completed_at, task.next_escalation_at = "cancelled", now, None
                session.add(AuditRecord(instance_id=instance.id, task_id=task.id, action="task_cancelled",
                                        actor="system", at=now, task_name=task.name))
        _audit(session, listing, "listing_closed", "system", now, {"number": listing.number})
