"""An enterprise registers itself: the registry must know it by credit code *and* name (one answer for any
mismatch, so the form tells a stranger nothing about which half was wrong), then its service officer (or, for
an enterprise with none, the dispatchers) is told and confirms or refuses with a reason; the contact is told
either way. Confirming vouches for the contact's mobile and email (the officer knows the enterprise), so
codes may be sent to them. Also the staff page's summary of an enterprise's account."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.policy.portal.invitations import (
    Outgoing,
    account_of,
    audit,
    clean_contact,
    conflicts,
    may_manage,
    officers_of,
    status_label,
)
from engine.policy.portal.session import PortalRefused
from engine.storage.models import Enterprise, EnterpriseAccount, EnterpriseContact, EnterpriseInvitation
from notifications.channels import Contact
from notifications.outbox import Notice

NO_MATCH = "统一社会信用代码与企业名称不一致，或该企业尚未录入本区企业库；请核对营业执照后再试，或联系服务专员"


def register(session: Session, out: Outgoing, raw: dict, ip: str) -> dict:
    uscc, name = str(raw.get("uscc") or "").strip().upper(), str(raw.get("enterprise_name") or "").strip()
    data, errors = clean_contact(raw)
    if not uscc:
        errors["uscc"] = "请填写统一社会信用代码"
    if not name:
        errors["enterprise_name"] = "请填写企业名称（与营业执照一致）"
    if errors:
        raise ValidationFailed(errors)
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc[:18]))
    if enterprise is None or enterprise.name.strip() != name:
        raise ValidationFailed({"uscc": NO_MATCH})
    account = account_of(session, enterprise.id)
    if account is not None and account.status in ("active", "pending", "disabled"):
        raise ValidationFailed({"uscc": {
            "active": "该企业已开通企业账号：请由本企业已有的联系人登录，或请服务专员邀请您",
            "pending": "该企业的注册申请正在等待服务专员确认，请耐心等候",
            "disabled": "该企业账号已停用，请联系服务专员"}[account.status]})
    taken = conflicts(session, data)
    if taken:
        raise ValidationFailed(taken)
    if account is None:
        account = EnterpriseAccount(enterprise_id=enterprise.id, session_generation=0, status="pending")
        session.add(account)
    else:  # refused before: this registration starts afresh, the earlier applicant no longer stands
        for old in session.scalars(select(EnterpriseContact).where(EnterpriseContact.account_id == account.id)):
            old.active = False
    account.status, account.origin, account.created_at, account.refused_reason = "pending", "registration", out.now, None
    account.confirmed_by = account.confirmed_at = None
    session.flush()
    contact = EnterpriseContact(account_id=account.id, name=data["contact_name"], mobile=data["mobile"],
                                email=data["email"], mobile_verified=False, email_verified=False, active=True,
                                session_generation=0, created_at=out.now)
    session.add(contact)
    session.flush()
    officers = officers_of(session, enterprise)
    out.notifier.notify(session, Notice(
        key=f"qiye-registration:{contact.id}", template="enterprise_registration", link=out.link("/enterprises/registrations"),
        context={"enterprise": enterprise.name, "contact": contact.name,
                 "reach": "、".join(a for a in (contact.mobile, contact.email) if a)},
        data={"event": "enterprise_registered", "enterprise": enterprise.name}), officers, None, out.now)
    audit(session, "qiye_registered", f"qiye:{contact.id}", out.now, enterprise_id=enterprise.id, account_id=account.id,
          ip=ip[:64], told=[u.username for u in officers])
    return {"account_id": account.id, "told": [u.display_name for u in officers]}


def _may_list(actor: Actor) -> None:
    if not (actor.is_admin or actor.roles & {"service_officer", "dispatcher"}):
        raise PermissionDenied("只有服务专员、区经济信息委交办员和管理员可以处理企业账号注册申请")


def _pending_query(actor: Actor):
    """Pending registrations this officer decides (may_manage, in SQL): their enterprises and those with none."""
    query = (select(EnterpriseAccount, Enterprise).join(Enterprise, Enterprise.id == EnterpriseAccount.enterprise_id)
             .where(EnterpriseAccount.status == "pending"))
    if not (actor.is_admin or "dispatcher" in actor.roles):
        query = query.where(or_(Enterprise.service_officer_id.is_(None),
                                Enterprise.service_officer_id == actor.user_id))
    return query


def pending(session: Session, actor: Actor) -> list[dict]:
    """The registrations waiting for this officer, oldest first, each with its applicant (one query for all)."""
    _may_list(actor)
    rows = session.execute(_pending_query(actor).order_by(EnterpriseAccount.created_at)).all()
    contacts: dict[int, EnterpriseContact] = {}
    if rows:
        for c in session.scalars(select(EnterpriseContact).where(
                EnterpriseContact.account_id.in_([a.id for a, _ in rows]), EnterpriseContact.active.is_(True))
                .order_by(EnterpriseContact.id)):
            contacts.setdefault(c.account_id, c)
    out = []
    for account, enterprise in rows:
        contact = contacts.get(account.id)
        out.append({"account_id": account.id, "enterprise_id": enterprise.id, "enterprise_name": enterprise.name,
                    "uscc": enterprise.uscc, "created_at": account.created_at,
                    "contact_name": contact.name if contact else "", "mobile": contact.mobile if contact else None,
                    "email": contact.email if contact else None})
    return out


def pending_count(session: Session, actor: Actor) -> int:
    """How many registrations wait for this officer (a count, for the registry page)."""
    _may_list(actor)
    return session.scalar(select(func.count()).select_from(_pending_query(actor).subquery())) or 0


def decide(session: Session, out: Outgoing, actor: Actor, account_id: int, confirm: bool, reason: str = "") -> dict:
    """Confirm (the account opens, the contact's channels count as verified) or refuse with a reason."""
    _may_list(actor)
    account = session.get(EnterpriseAccount, account_id) if 0 < account_id < 2 ** 31 else None
    enterprise = session.get(Enterprise, account.enterprise_id) if account else None
    if account is None or not may_manage(actor, enterprise):
        raise NotFound(f"注册申请 {account_id} 不存在")
    if account.status != "pending":
        raise PortalRefused("该注册申请已处理")
    reason = (reason or "").strip()
    if not confirm and not reason:
        raise ValidationFailed({"reason": "请填写不予确认的理由（将告知企业）"})
    contacts = list(session.scalars(select(EnterpriseContact).where(EnterpriseContact.account_id == account.id,
                                                                    EnterpriseContact.active.is_(True))))
    account.confirmed_by, account.confirmed_at = actor.username, out.now
    if confirm:
        account.status = "active"
        for contact in contacts:
            contact.mobile_verified, contact.email_verified = bool(contact.mobile), bool(contact.email)
    else:
        account.status, account.refused_reason = "refused", reason[:500]
    told = []
    for contact in contacts:
        told += out.notifier.notify_contact(session, Notice(
            key=f"qiye-decided:{account.id}:{contact.id}:{int(out.now.timestamp())}", template="enterprise_registration_decided",
            link=out.link("/qiye/login") if confirm else None,
            context={"enterprise": enterprise.name, "contact": contact.name, "confirmed": confirm, "reason": reason},
            data={"event": "enterprise_registration_decided", "confirmed": confirm}),
            Contact(label=contact.name, email=contact.email, mobile=contact.mobile), out.now)
    audit(session, "qiye_confirmed" if confirm else "qiye_refused", actor.username, out.now, enterprise_id=enterprise.id,
          account_id=account.id, reason=reason or None, told=[t["to"] for t in told])
    return {"enterprise": enterprise.name, "told": told}


def summary(session: Session, actor: Actor, enterprise_id: int, now) -> dict:
    """The staff enterprise page's 企业账号 panel: the account's state, its contacts, open invitations."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(f"企业 {enterprise_id} 不存在")
    account = account_of(session, enterprise_id)
    contacts = [] if account is None else [
        {"name": c.name, "mobile": c.mobile, "email": c.email, "mobile_verified": c.mobile_verified,
         "email_verified": c.email_verified, "has_password": bool(c.password_hash)}
        for c in session.scalars(select(EnterpriseContact).where(EnterpriseContact.account_id == account.id,
                                                                 EnterpriseContact.active.is_(True))
                                 .order_by(EnterpriseContact.id))]
    waiting = session.scalar(select(func.count(func.distinct(EnterpriseInvitation.group_key))).where(
        EnterpriseInvitation.enterprise_id == enterprise_id, EnterpriseInvitation.used_at.is_(None),
        EnterpriseInvitation.expires_at > now))
    return {"status": account.status if account else None,
            "status_label": status_label(account.status) if account else "未开通", "contacts": contacts,
            "can_manage": may_manage(actor, enterprise), "waiting": waiting}


def set_enabled(session: Session, out: Outgoing, actor: Actor, enterprise_id: int, enabled: bool) -> dict:
    """停用 (every session of the account ends at once, no code or password signs in) or 恢复 an account."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not may_manage(actor, enterprise):
        raise NotFound(f"企业 {enterprise_id} 不存在")
    account = account_of(session, enterprise_id)
    wanted, current = ("active", "disabled") if enabled else ("disabled", "active")
    if account is None or account.status != current:
        raise PortalRefused("该企业尚未开通企业账号" if account is None else
                            f"该企业账号当前{status_label(account.status)}，不能{'恢复' if enabled else '停用'}")
    account.status = wanted
    account.session_generation += 1
    contacts = list(session.scalars(select(EnterpriseContact).where(EnterpriseContact.account_id == account.id,
                                                                    EnterpriseContact.active.is_(True))))
    told = []
    for contact in contacts:
        told += out.notifier.notify_contact(session, Notice(
            key=f"qiye-{wanted}:{account.id}:{contact.id}:{account.session_generation}", template="enterprise_account_state",
            link=out.link("/qiye/login") if enabled else None,
            context={"enterprise": enterprise.name, "contact": contact.name, "enabled": enabled},
            data={"event": "enterprise_account_state", "enabled": enabled}),
            Contact(label=contact.name, email=contact.email if contact.email_verified else None,
                    mobile=contact.mobile if contact.mobile_verified else None), out.now)
    audit(session, "qiye_enabled" if enabled else "qiye_disabled", actor.username, out.now, enterprise_id=enterprise.id,
          account_id=account.id, told=[t["to"] for t in told])
    return {"enterprise": enterprise.name, "told": told}
