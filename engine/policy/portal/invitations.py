"""How an enterprise account comes to be: the service officer's invitation (a single-use link sent to the
contact, valid 7 days; following it verifies the channel it came by), or the enterprise's own registration,
checked against the registry by credit code and name and confirmed or refused by the service officer.

Functions of one open transaction: each writes its audit record and its messages in it, and raises before
writing anything when the input is wrong (ValidationFailed naming the field) or no channel can carry a message.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.accounts import normalise_mobile
from engine.identity.authz import Actor
from engine.policy.portal.session import CHANNEL_LABELS, EMAIL, PortalRefused, keyed_hash, masked
from engine.storage.models import (
    AuditRecord,
    Enterprise,
    EnterpriseAccount,
    EnterpriseContact,
    EnterpriseInvitation,
    User,
    UserRole,
)
from notifications.channels import Contact
from notifications.outbox import Notice, Notifier

INVITATION_DAYS = 7
MANAGERS = ("service_officer", "dispatcher")
STATUS_LABELS = {"pending": "待服务专员确认", "active": "已开通", "disabled": "已停用", "refused": "未予确认"}


@dataclass(frozen=True)
class Outgoing:
    """What a change needs besides its session: the clock's moment, the notifier, links and the hashing key."""

    now: datetime
    notifier: Notifier
    base_url: str
    secret: str

    def link(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"


def audit(session: Session, action: str, actor: str, at: datetime, **data) -> None:
    """Account events on the audit trail: no instance, ``qiye_*`` actions (at most 32 characters)."""
    session.add(AuditRecord(instance_id=None, action=action, actor=actor[:64], at=at, data=data))


def may_manage(actor: Actor, enterprise: Enterprise) -> bool:
    """Its own service officer (or any, for an enterprise with none), the dispatcher, an admin."""
    if actor.is_admin or "dispatcher" in actor.roles:
        return True
    return "service_officer" in actor.roles and enterprise.service_officer_id in (None, actor.user_id)


def clean_contact(raw: dict) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    name = str(raw.get("contact_name") or "").strip()
    if not name:
        errors["contact_name"] = "请填写联系人姓名"
    elif len(name) > 50:
        errors["contact_name"] = "联系人姓名不超过 50 个字"
    mobile_raw, email_raw = str(raw.get("mobile") or "").strip(), str(raw.get("email") or "").strip()
    mobile = normalise_mobile(mobile_raw) if mobile_raw else None
    if mobile_raw and not mobile:
        errors["mobile"] = "手机号应为 11 位大陆手机号码"
    email = email_raw.lower() if email_raw and EMAIL.match(email_raw) and len(email_raw) <= 255 else None
    if email_raw and not email:
        errors["email"] = "邮箱格式不正确"
    if not (mobile_raw or email_raw):
        errors["mobile"] = "请至少填写手机号或邮箱之一"
    return {"contact_name": name, "mobile": mobile, "email": email}, errors


def conflicts(session: Session, data: dict) -> dict[str, str]:
    """A mobile number or email address signs one person in: never two active contacts with the same one."""
    errors = {}
    for field, column, label in (("mobile", EnterpriseContact.mobile, "手机号"), ("email", EnterpriseContact.email, "邮箱")):
        if data.get(field) and session.scalar(select(func.count(EnterpriseContact.id)).where(
                column == data[field], EnterpriseContact.active.is_(True))):
            errors[field] = f"该{label}已是企业账号的联系人，请换一个或联系服务专员"
    return errors


def account_of(session: Session, enterprise_id: int) -> EnterpriseAccount | None:
    return session.scalar(select(EnterpriseAccount).where(EnterpriseAccount.enterprise_id == enterprise_id))


def _managed(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(f"企业 {enterprise_id} 不存在")
    if not may_manage(actor, enterprise):
        raise PermissionDenied("只有该企业的服务专员、区经济信息委交办员和管理员可以管理企业账号")
    return enterprise


def invite(session: Session, out: Outgoing, actor: Actor, enterprise_id: int, raw: dict) -> dict:
    """One link per channel given (mobile: SMS, email), tied together: accepting one uses them all."""
    enterprise = _managed(session, actor, enterprise_id)
    data, errors = clean_contact(raw)
    errors = errors or conflicts(session, data)
    if errors:
        raise ValidationFailed(errors)
    account = account_of(session, enterprise.id)
    if account is not None and account.status == "disabled":
        raise PortalRefused("该企业账号已停用，不能邀请新的联系人")
    group, sent = secrets.token_hex(8), []
    for channel, address in (("sms", data["mobile"]), ("email", data["email"])):
        if not address:
            continue
        token = secrets.token_urlsafe(24)
        row = EnterpriseInvitation(token_hash=keyed_hash(out.secret, "invite", token), group_key=group,
                                   enterprise_id=enterprise.id, contact_name=data["contact_name"], mobile=data["mobile"],
                                   email=data["email"], channel=channel, invited_by=actor.username, created_at=out.now,
                                   expires_at=out.now + timedelta(days=INVITATION_DAYS))
        session.add(row)
        session.flush()
        link = out.link(f"/qiye/invite/{token}")
        notice = Notice(key=f"qiye-invite:{row.id}", template="enterprise_invitation", link=link,
                        context={"enterprise": enterprise.name, "contact": data["contact_name"], "days": INVITATION_DAYS},
                        data={"event": "enterprise_invited", "enterprise": enterprise.name})
        contact = Contact(label=data["contact_name"], **{"mobile" if channel == "sms" else "email": address})
        reached = out.notifier.notify_contact(session, notice, contact, out.now)
        if not reached:  # no channel carries it (no SMS gateway): no link that nobody received
            session.delete(row)
        sent += reached
    if not sent:  # nothing written stays: the transaction rolls back
        raise PortalRefused("邀请未能发出：系统未配置能送达该手机号或邮箱的渠道（短信网关或邮件服务器），请联系系统管理员")
    audit(session, "qiye_invited", actor.username, out.now, enterprise_id=enterprise.id, group=group,
          to=[r["to"] for r in sent])
    return {"sent": sent, "enterprise": enterprise.name}


def _invitation(session: Session, secret: str, token: str) -> EnterpriseInvitation | None:
    if not token or len(token) > 100:
        return None
    return session.scalar(select(EnterpriseInvitation).where(
        EnterpriseInvitation.token_hash == keyed_hash(secret, "invite", token)))


def invitation(session: Session, secret: str, token: str, now: datetime) -> dict | None:
    """What the invitation page shows, or None for a token that is no invitation."""
    row = _invitation(session, secret, token)
    if row is None:
        return None
    enterprise = session.get(Enterprise, row.enterprise_id)
    address = row.mobile if row.channel == "sms" else row.email
    state = "used" if row.used_at else "expired" if row.expires_at <= now else "open"
    return {"enterprise_name": enterprise.name, "contact_name": row.contact_name, "state": state,
            "channel_label": CHANNEL_LABELS[row.channel], "shown": masked(row.channel, address or ""),
            "expires_at": row.expires_at}


def accept(session: Session, out: Outgoing, token: str) -> dict:
    """The account (active) and the contact, the invited channel verified; returns how to sign in."""
    row = _invitation(session, out.secret, token)
    if row is None:
        raise NotFound("邀请链接无效")
    if row.used_at is not None:
        raise PortalRefused("该邀请链接已使用过；请直接登录企业账号")
    if row.expires_at <= out.now:
        raise PortalRefused(f"该邀请链接已过期（有效期 {INVITATION_DAYS} 天），请联系服务专员重新邀请")
    data = {"mobile": row.mobile, "email": row.email}
    taken = conflicts(session, data)
    if taken:
        raise PortalRefused(next(iter(taken.values())))
    used = session.execute(update(EnterpriseInvitation).where(
        EnterpriseInvitation.group_key == row.group_key, EnterpriseInvitation.used_at.is_(None)).values(used_at=out.now))
    if not used.rowcount:  # type: ignore[attr-defined]  # accepted at the same moment elsewhere
        raise PortalRefused("该邀请链接已使用过；请直接登录企业账号")
    account = account_of(session, row.enterprise_id)
    if account is not None and account.status == "disabled":
        raise PortalRefused("该企业账号已停用，请联系服务专员")
    if account is None:
        account = EnterpriseAccount(enterprise_id=row.enterprise_id, origin="invitation", created_at=out.now,
                                    status="active", session_generation=0)
        session.add(account)
    if account.status != "active":  # a pending or refused registration: the officer's invitation settles it
        account.status, account.refused_reason = "active", None
    account.confirmed_by, account.confirmed_at = row.invited_by, out.now
    session.flush()
    contact = EnterpriseContact(account_id=account.id, name=row.contact_name, mobile=row.mobile, email=row.email,
                                mobile_verified=row.channel == "sms", email_verified=row.channel == "email",
                                active=True, session_generation=0, created_at=out.now)
    session.add(contact)
    session.flush()
    audit(session, "qiye_invitation_accepted", f"qiye:{contact.id}", out.now, enterprise_id=row.enterprise_id,
          account_id=account.id, contact_id=contact.id, channel=row.channel)
    return {"identifier": row.mobile if row.channel == "sms" else row.email, "account_id": account.id}


def officers_of(session: Session, enterprise: Enterprise) -> list[User]:
    """Whoever confirms its registration: its service officer, else the dispatchers."""
    if enterprise.service_officer_id:
        officer = session.get(User, enterprise.service_officer_id)
        if officer is not None and officer.active:
            return [officer]
    return list(session.scalars(select(User).join(UserRole).where(
        UserRole.role == "dispatcher", User.active.is_(True)).order_by(User.id)).unique())


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)
