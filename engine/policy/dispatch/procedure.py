"""The problem-dispatch procedure (problem_dispatch): its diagram uses the runtime's calendar helpers and
its process properties (``setting``); its one operation tells the enterprise's service officer of an
extension decision; its figures (engine.policy.dispatch.figures) are read by the circulars."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.policy.dispatch import city_link, merging
from engine.runtime.extensions import Procedure
from engine.runtime.notices import matter_of
from engine.runtime.operations import Operation, OperationContext
from engine.storage.models import AuditRecord, Department, Enterprise, ItemLink, ProcessInstance, User, UserRole

OFFICER = "service_officer"
LEVELS = {"dispatcher": "区经济信息委（交办员）", "office": "领导小组办公室"}


def _enterprise(session, instance_id: int, uscc: str | None) -> Enterprise | None:
    """The registry enterprise of the item: its link (when intake keeps links), else its credit code."""
    link = session.get(ItemLink, instance_id)
    if link is not None and link.enterprise_id:
        return session.get(Enterprise, link.enterprise_id)
    if uscc:
        return session.scalar(select(Enterprise).where(Enterprise.uscc == str(uscc).strip().upper()))
    return None


def service_officers(session, instance_id: int, uscc: str | None) -> list[User]:
    """The enterprise's own service officer when the item is linked to a registry enterprise that has one
    (and that officer is active), else every active service officer."""
    enterprise = _enterprise(session, instance_id, uscc)
    if enterprise is not None:
        officer = session.get(User, enterprise.service_officer_id) if enterprise and enterprise.service_officer_id \
            else None
        if officer is not None and officer.active:
            return [officer]
    return list(session.scalars(select(User).join(UserRole).where(UserRole.role == OFFICER, User.active.is_(True))
                                .order_by(User.id)).unique())


def _tell_service_officer(ctx: OperationContext, params: dict) -> list[str]:
    """An extension decision, told to the enterprise's service officer (to pass on to the enterprise)."""
    from notifications.outbox import Notice

    notice = params.get("notice") if isinstance(params.get("notice"), dict) else {}
    instance = ctx.session.get(ProcessInstance, ctx.instance_id)
    services = ctx.services
    officers = service_officers(ctx.session, instance.id, notice.get("enterprise_uscc"))
    context = {"matter": matter_of(instance), "business_key": instance.business_key,
               "department": notice.get("department") or "", "approved": bool(notice.get("approved")),
               "due_date": notice.get("due_date") or "", "requested_due_date": notice.get("requested_due_date") or "",
               "decided_by": LEVELS.get(notice.get("level"), "区经济信息委"), "comment": notice.get("comment") or ""}
    key = f"extension:{instance.id}:{notice.get('slot')}:{notice.get('number')}"
    link = f"{services.settings.base_url.rstrip('/')}/items/{instance.id}"
    services.notifier.notify(ctx.session, Notice(key=key, template="extension_decided", context=context, link=link,
                                                 data={"event": "extension_decided", "business_key": instance.business_key,
                                                       "approved": context["approved"], "due_date": context["due_date"]}),
                             officers, None, ctx.now)
    if context["approved"]:
        _tell_contact(ctx, notice.get("contact"), Notice(
            key=f"{key}:contact", template="extension_decided_contact", context=context, link=None,
            data={"event": "extension_decided", "business_key": instance.business_key, "due_date": context["due_date"]}))
    return [u.username for u in officers]


def _tell_contact(ctx: OperationContext, contact: object, notice) -> list[dict]:
    """The enterprise itself, when its registration gives a contact with an email address or a mobile
    number (engine.policy.dispatch.merging.contact_of), through the outbox; audited on the item."""
    from engine.policy.dispatch.merging import contact_of
    from notifications.channels import Contact

    email, mobile = contact_of(contact)
    if not (email or mobile):
        return []
    reached = ctx.services.notifier.notify_contact(ctx.session, notice, Contact(label=str(contact), email=email,
                                                                                mobile=mobile), ctx.now)
    # 「已告知企业」 only when a channel took the message: a mobile number with no SMS gateway configured
    # reaches nobody, and the item's history must say so rather than claim the enterprise was told.
    action = "enterprise_told" if reached else "enterprise_not_reached"
    ctx.session.add(AuditRecord(instance_id=ctx.instance_id, action=action, actor="system", at=ctx.now,
                                data={"event": notice.data.get("event"), "to": [r["to"] for r in reached],
                                      "contact": str(contact)}))
    return reached


def _invite_consultation(ctx: OperationContext, params: dict) -> list[str]:
    """The office's 会商 on a disputed remit: the liaisons and heads of the units named are told when and
    where, with the returns that led to it."""
    from notifications.outbox import Notice

    meeting = params.get("meeting") if isinstance(params.get("meeting"), dict) else {}
    instance = ctx.session.get(ProcessInstance, ctx.instance_id)
    names = [str(d) for d in meeting.get("departments") or []]
    departments = [d for d in (ctx.session.scalar(select(Department).where(Department.name == n)) for n in names) if d]
    people = list(ctx.session.scalars(
        select(User).join(UserRole).where(User.active.is_(True), User.department_id.in_([d.id for d in departments]),
                                          UserRole.role.in_(("liaison", "department_head"))).order_by(User.id)).unique())
    returns = "；".join(f"{r.get('department')}：{r.get('reason')}" for r in meeting.get("returns") or [])
    context = {"matter": matter_of(instance), "business_key": instance.business_key, "departments": "、".join(names),
               "at": meeting.get("at") or "", "place": meeting.get("place") or "", "returns": returns}
    key = f"consultation:{instance.id}:{meeting.get('slot')}:{meeting.get('number')}"
    link = f"{ctx.services.settings.base_url.rstrip('/')}/items/{instance.id}"
    ctx.services.notifier.notify(ctx.session, Notice(key=key, template="consultation_invited", context=context,
                                                     link=link, data={"event": "consultation_invited",
                                                                      "business_key": instance.business_key,
                                                                      "at": context["at"]}),
                                 people, None, ctx.now)
    return names


def _clock_watchers(session, instance, data: dict) -> list[User]:
    """Who hears of a pause of a task's clock (挂起) and its resumption beside the dispatcher: the enterprise's
    service officer, who can press the enterprise for what the department waits for."""
    return service_officers(session, instance.id, data.get("enterprise_uscc"))


def _completion_handlers(services) -> dict:
    """A master item's end closes the items merged into it (engine.policy.dispatch.merging); a city item a district
    asked for tells that district the answer (engine.policy.dispatch.city_link)."""
    tz = ZoneInfo(services.settings.timezone)
    close = merging.close_merged(tz)
    answer = city_link.answered(services.notifier, services.settings.base_url, tz)

    def handler(session, instance, data, now) -> None:
        close(session, instance, data, now)
        answer(session, instance, data, now)
    return {"problem_dispatch": handler}


def _cancel_handlers(services) -> dict:
    """A master item given up sends the items merged into it back to 研判 (engine.policy.dispatch.merging)."""
    return {"problem_dispatch": merging.release_merged(ZoneInfo(services.settings.timezone))}


PROCEDURE = Procedure(
    key="dispatch", label="问题交办", processes=("problem_dispatch",), watchers=_clock_watchers,
    completion_handlers=_completion_handlers, cancel_handlers=_cancel_handlers, messages={merging.MESSAGE: merging.MESSAGE_LABEL},
    operations=(
        Operation("tell_service_officer", "告知企业服务专员", frozenset({"dispatcher", "leading_group_office", "admin"}),
                  True, ("notice",), _tell_service_officer, "告知的服务专员用户名列表"),
        Operation("invite_consultation", "通知会商单位", frozenset({"dispatcher", "leading_group_office", "admin"}),
                  True, ("meeting",), _invite_consultation, "通知的单位名称列表"),
        Operation("link_master", "合并到主件（核对主件并关联）", frozenset({"dispatcher", "admin"}), False,
                  ("master",), merging.link_master, "{id, business_key, title}：主件"),
        Operation("tell_merged_enterprise", "告知企业合并件随主件办结", frozenset({"dispatcher", "admin"}), True,
                  ("notice",), merging.tell_enterprise, "{officers, contact}：告知的服务专员与企业联系人"),
    ),
)
