"""Telling people of new work: when a step creates a human task, the users who can act on it hear of it.

The step's writer (engine.runtime.stepper) hands the tasks it created to :class:`WorkNotices`, which
writes one notice per task (key ``task:<id>``, so every user gets it once per channel) in the step's
own transaction: a step that fails writes no message, and no message tells of a step that did not
happen. What it says follows from the new step and the step that led to it (:data:`MOMENTS`): what
happened, what to do and by when (Beijing time, working days left), naming the enterprise and the step.

Who hears of it (:func:`audience`): the task's assignee when it carries on with the previous step of
its department in the same roles (who signed, handles); else whoever did this step of this department last, when it comes back to
them (an extension decided goes to the liaison who asked); else everyone who may act on it — the
holders of its roles, in its department for departmental roles (heads only when the department has
nobody else). Never the user whose action created it. Escalations (engine.deadlines.escalation) and
the supervision items they open notify on their own; those items are not created here.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.identity.authz import assigned_to_other
from engine.identity.colleagues import HANDLER
from engine.identity.org import GLOBAL_ROLES
from engine.storage.models import Department, HumanTask, ProcessInstance, User, UserRole
from notifications.outbox import Notice, Notifier

WEEKDAYS = "一二三四五六日"
HEAD = "department_head"


@dataclass(frozen=True)
class Moment:
    headline: str  # the subject's first words: 新交办
    action: str  # what to do, after 「请于 … 前」: 签收
    happened: str  # one sentence; fields: matter, step, department (the task's), by (who acted), role


# (process, the new task's step, the step just completed: "*" for any, or none) → what is said.
_HEAD_REVIEW = Moment("答复待负责人审核", "审核", "{by}已拟好{matter}的答复，请审核后报出；需修改的请写明意见退回。")
MOMENTS: dict[tuple[str, str, str], Moment] = {
    ("problem_dispatch", "triage", "*"): Moment("新登记问题", "研判", "{by}登记了{matter}，请研判是否受理。"),
    ("problem_dispatch", "dispatch", "*"): Moment("待交办", "交办", "{matter}已受理，请确定承办单位和办理时限后交办。"),
    ("problem_dispatch", "sign", "*"): Moment(
        "新交办", "签收", "{matter}已交由{department}{role}，请签收；不属于本单位职责的，请写明理由退回。"),
    ("problem_dispatch", "redispatch", "sign"): Moment("退回", "重新交办", "{by}退回了{matter}，请重新确定承办单位。"),
    ("problem_dispatch", "decide_extension", "handle"): Moment(
        "延期申请", "审批", "{by}申请延长{matter}的办理期限，请审批。"),
    ("problem_dispatch", "decide_extension_office", "handle"): Moment(
        "延期申请待审批", "审批", "{by}申请延长{matter}的办理期限，超过交办员的审批权限，请领导小组办公室审批。"),
    ("problem_dispatch", "handle", "decide_extension_office:yes"): Moment(
        "延期已批准", "办理答复", "您对{matter}的延期申请已获领导小组办公室批准，请在新的期限前办理答复。"),
    ("problem_dispatch", "handle", "decide_extension_office:no"): Moment(
        "延期未获批准", "办理答复", "您对{matter}的延期申请未获领导小组办公室批准，请按原期限办理答复。"),
    ("problem_dispatch", "handle", "decide_extension:yes"): Moment(
        "延期已批准", "办理答复", "您对{matter}的延期申请已获批准，请在新的期限前办理答复。"),
    ("problem_dispatch", "handle", "decide_extension:no"): Moment(
        "延期未获批准", "办理答复", "您对{matter}的延期申请未获批准，请按原期限办理答复。"),
    ("problem_dispatch", "review", "rework"): Moment("整改答复待审核", "审核", "{by}已提交{matter}的整改答复，请审核。"),
    ("problem_dispatch", "review", "head_review:rework"): Moment(
        "整改答复待审核", "审核", "{matter}的整改答复已经承办单位负责人审核同意报出，请审核。"),
    ("problem_dispatch", "review", "head_review"): Moment(
        "答复待审核", "审核", "{matter}的答复已经承办单位负责人审核同意报出，请审核答复。"),
    ("problem_dispatch", "review", "*"): Moment("答复待审核", "审核", "各承办单位已答复{matter}，请审核答复。"),
    ("problem_dispatch", "handle", "sign"): Moment("转办", "办理答复", "{by}已将{matter}转交您承办，请办理答复。"),
    # 负责人审核 inside the department's part (head_review_slot) and of the consolidated answer (head_review).
    ("problem_dispatch", "head_review_slot", "*"): _HEAD_REVIEW,
    ("problem_dispatch", "head_review", "*"): _HEAD_REVIEW,
    ("problem_dispatch", "handle", "head_review_slot"): Moment(
        "负责人退回修改", "修改答复", "{department}负责人退回了{matter}的答复，请按意见修改后重新提交。"),
    ("problem_dispatch", "consolidate", "head_review"): Moment(
        "负责人退回修改", "汇总答复", "{department}负责人退回了{matter}的汇总答复，请按意见修改后重新提交。"),
    ("problem_dispatch", "consolidate", "*"): Moment(
        "待主办汇总", "汇总答复", "各协办单位已报送{matter}的协办意见，请{department}汇总后统一答复。"),
    ("problem_dispatch", "revise_part", "*"): Moment(
        "协办意见退回", "修改协办意见", "{matter}的协办意见被退回，请{department}按意见修改后报主办单位。"),
    ("problem_dispatch", "remit_ruling", "*"): Moment(
        "待审定承办单位", "审定", "{matter}的承办单位有争议，请领导小组办公室审定承办单位（可先组织会商）。"),
    ("problem_dispatch", "consultation", "*"): Moment(
        "待记录会商结果", "记录会商结果", "{matter}的会商已通知有关单位，请会商后记录会商意见和确定的承办单位。"),
    ("problem_dispatch", "sign", "remit_ruling"): Moment(
        "审定交办", "签收", "{matter}经领导小组办公室审定由{department}承办，请签收办理；审定后不得退回。"),
    ("problem_dispatch", "leader_ruling", "*"): Moment(
        "待区领导审定", "审定", "{matter}的承办单位有争议，领导小组办公室报请区领导审定承办单位。"),
    ("problem_dispatch", "sign", "leader_ruling"): Moment(
        "审定交办", "签收", "{matter}经区领导审定由{department}承办，请签收办理；审定后不得退回。"),
    ("problem_dispatch", "sign", "consultation"): Moment(
        "审定交办", "签收", "{matter}经会商确定由{department}承办，请签收办理；审定后不得退回。"),
    ("problem_dispatch", "rework", "review"): Moment(
        "退办整改", "整改答复", "{matter}的答复未通过审核，退回{department}整改。"),
    ("problem_dispatch", "rework", "rating"): Moment(
        "重办", "整改答复", "企业对{matter}的办理结果不满意，请{department}重新办理。"),
    ("problem_dispatch", "rating", "rating"): Moment(
        "再次回访", "回访企业并评价",
        "上次回访未能联系上{matter}的企业，请在回访期限内再次联系并记录评价；期满仍未联系上的按未回访办结。"),
    ("problem_dispatch", "rating", "*"): Moment("待回访", "回访企业并评价", "{matter}的答复已审核通过，请回访企业并记录评价。"),
    ("problem_dispatch", "office_decision", "*"): Moment(
        "待研究处理", "研究处理", "{matter}经两次重办企业仍不满意，请领导小组办公室研究处理。"),
    ("evaluation_circular", "draft", "*"): Moment("待起草通报", "起草通报", "{matter}的评价数据已汇总，请起草通报。"),
    ("evaluation_circular", "approve", "*"): Moment("通报待审批", "审批", "{by}已起草{matter}，请审阅正文后决定是否发布。"),
    ("evaluation_circular", "rectify", "*"): Moment(
        "通报整改", "提交整改报告", "{department}在{matter}中被通报批评，请提交整改报告。"),
    ("evaluation_circular", "check_figures", "*"): Moment(
        "通报数据待核对", "核对本单位数据",
        "{matter}已定稿，请核对{department}在通报附表中的数据；有误的请提出异议（写明核实的数值和理由），期满未核对的视为无异议。"),
    ("evaluation_circular", "resolve_objections", "*"): Moment(
        "通报数据异议", "处理异议", "成员单位对{matter}的数据提出了异议，请逐条处理：采纳并更正，或写明理由不予采纳。"),
    ("evaluation_circular", "approve", "check_figures"): Moment(
        "通报待审批", "审批", "{matter}已经成员单位核对，无数据异议，请审阅正文后决定是否发布。"),
    ("evaluation_circular", "approve", "resolve_objections"): Moment(
        "通报待审批", "审批", "{matter}已经成员单位核对，数据异议已由{by}处理，请审阅正文后决定是否发布。"),
    ("evaluation_circular", "review_rectification", "*"): Moment(
        "整改报告待审核", "审核整改报告", "{by}提交了{matter}的整改报告，请审核：已整改的予以销号，未到位的写明意见退回。"),
    ("evaluation_circular", "rectify", "review_rectification"): Moment(
        "整改报告退回", "补充整改报告", "领导小组办公室退回了{department}对{matter}的整改报告，请按审核意见补充整改后重新提交。"),
}
GENERIC = Moment("新待办", "办理", "{matter}的「{step}」已交{department}办理。")

# What the step just completed said that the next one decides on (its form's field → the label shown).
DETAILS = {"return_reason": "退回理由", "extension_due_date": "申请延至", "extension_reason": "延期理由",
           "extension_comment": "审批意见", "review_reason": "退办理由", "rating_comment": "企业意见",
           "visit_note": "联系情况", "rectification_comment": "审核意见"}
ROLE_LABELS = {"lead": "主办", "co": "协办"}


def moment_of(process: str, step: str, cause: HumanTask | None, cause_data: dict, data: dict | None = None) -> Moment:
    """What is said of the new task ``step``: by the step just completed (``cause``, its answer ``cause_data``)
    and, after a head's sign-off, by what was signed off (the new task's ``data``: head_review_of)."""
    previous = cause.bpmn_id if cause is not None else "*"
    if previous in ("decide_extension", "decide_extension_office"):
        previous += ":yes" if cause_data.get("extension_approved") else ":no"
    signed_off = (data or {}).get("head_review_of") if previous == "head_review" else None
    return ((signed_off and MOMENTS.get((process, step, f"{previous}:{signed_off}")))
            or MOMENTS.get((process, step, previous)) or MOMENTS.get((process, step, "*")) or GENERIC)


def _roles(task: HumanTask) -> set[str]:
    return {r.strip() for r in (task.roles or "").split(",") if r.strip()}


def may_act(user: User, task: HumanTask) -> bool:
    """engine.identity.authz.check_can_act for a user row (admins aside: they are not told of every task)."""
    mine = user.role_names & _roles(task)
    return bool(user.active and mine and (mine & GLOBAL_ROLES or user.department_id == task.department_id)
                and not assigned_to_other(task, user.id, mine))


def holders(session: Session, task: HumanTask) -> list[User]:
    """The active users who may act on ``task``; heads of a department only when it has nobody else; a
    department's 承办人 only when the task is assigned to them (audience), else its liaison hears of it."""
    roles = _roles(task)
    first = roles - {HEAD, HANDLER}
    wanted = [first, {HEAD}] if first else [roles]
    for group in wanted:
        global_roles, local_roles = group & GLOBAL_ROLES, group - GLOBAL_ROLES
        condition = or_(UserRole.role.in_(sorted(global_roles)),
                        and_(UserRole.role.in_(sorted(local_roles)), User.department_id == task.department_id))
        people = list(session.scalars(select(User).join(UserRole).where(User.active.is_(True), condition)
                                      .order_by(User.id)).unique())
        if people:
            return people
    return []


def audience(session: Session, task: HumanTask, rows: Sequence[HumanTask], actor_id: int | None,
             cause: HumanTask | None = None) -> list[User]:
    """Who is told of the new ``task`` (module docstring); ``rows`` are its instance's task rows, ``cause``
    the task whose completion created it."""
    people: list[User] = []
    if task.handler_id is not None:  # assigned to a named 承办人: theirs to hear of
        people = [u for u in [session.get(User, task.handler_id)] if u is not None and u.active]
    elif task.assignee_id is not None and cause is not None and _roles(task) <= _roles(cause):
        people = [u for u in [session.get(User, task.assignee_id)] if u is not None and may_act(u, task)]
        people = people or holders(session, task)
    else:
        before = [r for r in rows if r.deadline_key == task.deadline_key and r.id != task.id
                  and r.completed_by_id is not None and r.id < task.id]
        last = session.get(User, before[-1].completed_by_id) if before else None
        people = [last] if last is not None and may_act(last, task) else holders(session, task)
    return [u for u in {u.id: u for u in people}.values() if u.id != actor_id]


def matter_of(instance: ProcessInstance) -> str:
    """The enterprise and its problem, 「某公司「用地问题」」, else the item's title."""
    if instance.subject and instance.category:
        return f"{instance.subject}「{instance.category}问题」"
    return instance.title or instance.business_key


class WorkNotices:
    def __init__(self, notifier: Notifier, tz: ZoneInfo, base_url: str):
        self.notifier = notifier
        self.tz = tz
        self.base_url = base_url.rstrip("/")

    def task_created(self, session: Session, instance: ProcessInstance, process: str, created: Sequence[HumanTask],
                     rows: Sequence[HumanTask], workflow, cause: HumanTask | None, cause_data: dict,
                     actor: tuple[int | None, str], now: datetime, working_days: Callable[[date, date], int]) -> None:
        """Write the notices of the tasks a step created (module docstring), in the step's transaction.
        ``actor`` is (user id, name shown) of who acted; ``working_days(start, end)`` counts working days."""
        for task in created:
            users = audience(session, task, rows, actor[0], cause)
            if not users:
                continue
            spiff = workflow.get_task_from_id(UUID(task.spiff_task_id)) if task.spiff_task_id else None
            data = spiff.data if spiff is not None else {}
            notice = self.notice(session, instance, process, task, data, cause, cause_data, actor[1], now,
                                 working_days)
            self.notifier.notify(session, notice, users, task.department_id, now)

    def notice(self, session: Session, instance: ProcessInstance, process: str, task: HumanTask, data: dict,
               cause: HumanTask | None, cause_data: dict, by: str, now: datetime,
               working_days: Callable[[date, date], int]) -> Notice:
        moment = moment_of(process, task.bpmn_id, cause, cause_data, data)
        department = session.get(Department, task.department_id)
        assignment = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
        role = ROLE_LABELS.get(assignment.get("role"), "")
        matter = matter_of(instance)
        happened = moment.happened.format(matter=matter, step=task.name, department=department.name,
                                          by=by, role=role or "办理")
        due = self.due(task.due_at, now, working_days)
        details = [(label, str(cause_data[field])) for field, label in DETAILS.items()
                   if cause_data.get(field) not in (None, "")]
        link = f"{self.base_url}/tasks/{task.id}"
        context = {"headline": moment.headline, "action": moment.action, "matter": matter, "happened": happened,
                   "title": instance.title or instance.business_key, "business_key": instance.business_key,
                   "step": task.name, "role": role, "department": department.name, "details": details, **due}
        return Notice(key=f"task:{task.id}", template="task_created", context=context, link=link,
                      data={"event": "task_created", "task_id": task.id, "business_key": instance.business_key,
                            "step": task.name, "department": department.name, "headline": moment.headline,
                            "summary": happened, "due_at": task.due_at.isoformat() if task.due_at else None,
                            "card_title": f"{moment.headline}：{matter}",
                            "deadline": f"请于 {due['due_long']}前{moment.action}（{due['left']}）" if due["due_long"]
                            else f"请尽快{moment.action}"})

    def due(self, due_at: datetime | None, now: datetime, working_days: Callable[[date, date], int]) -> dict:
        """The deadline as the subject says it (12月3日（周四）17:30) and the body (2026-12-03 17:30（周四），
        还有 2 个工作日)."""
        if due_at is None:
            return {"due_short": "", "due_long": "", "left": ""}
        local, today = due_at.astimezone(self.tz), now.astimezone(self.tz).date()
        weekday = f"（周{WEEKDAYS[local.weekday()]}）"
        if due_at <= now:
            left = "已超过期限"
        elif local.date() == today:
            left = "今天到期"
        else:
            left = f"还有 {max(working_days(today, local.date()), 0)} 个工作日"
        return {"due_short": f"{local.month}月{local.day}日{weekday}{local:%H:%M}",
                "due_long": f"{local:%Y-%m-%d %H:%M}{weekday}", "left": left}
