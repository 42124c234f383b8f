"""Signing an enterprise contact in: a one-time 6-digit code sent to a verified mobile (SMS) or email (10
minutes, single use, at most 5 tries, stored as a keyed hash; at most one a minute and 5 an hour per mobile or
email, 30 an hour per network address, counted alike whether the mobile or email has an account), or the
contact's own password (slowed down per name and address as staff logins are, engine/identity/throttle.py).
Sessions carry a stamp of the contact's and the account's generations.

The answer to "send me a code", a refusal for asking too often included, is the same whether the mobile or
email belongs to anyone.
"""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import ValidationFailed
from engine.identity import throttle
from engine.policy.portal.invitations import Outgoing, audit
from engine.policy.portal.session import EnterpriseSession, PortalRefused, TooFrequent, identify, keyed_hash, same_hash
from engine.storage.models import Enterprise, EnterpriseAccount, EnterpriseContact, EnterpriseLoginCode, LoginAttempt
from notifications.channels import Contact
from notifications.outbox import Notice

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
CODE_GAP = timedelta(seconds=60)
CODES_PER_HOUR = 5
CODES_PER_ADDRESS_HOUR = 30
MIN_PASSWORD = 8
SENT = f"如该手机号或邮箱已开通企业账号，验证码已发送，{CODE_MINUTES} 分钟内有效"
WRONG_CODE = "验证码错误或已失效，请重新获取"
REQUEST_PREFIX = "qiye-code:"  # login_attempt rows of code requests (no staff name has a colon)


def find_contact(session: Session, channel: str, address: str, verified: bool
                 ) -> tuple[EnterpriseContact, EnterpriseAccount, Enterprise] | None:
    """The active contact of an active account with this mobile or email (verified, for codes)."""
    column = EnterpriseContact.mobile if channel == "sms" else EnterpriseContact.email
    conditions = [column == address, EnterpriseContact.active.is_(True), EnterpriseAccount.status == "active"]
    if verified:
        flag = EnterpriseContact.mobile_verified if channel == "sms" else EnterpriseContact.email_verified
        conditions.append(flag.is_(True))
    row = session.execute(select(EnterpriseContact, EnterpriseAccount, Enterprise)
                          .join(EnterpriseAccount, EnterpriseAccount.id == EnterpriseContact.account_id)
                          .join(Enterprise, Enterprise.id == EnterpriseAccount.enterprise_id)
                          .where(*conditions).order_by(EnterpriseContact.id).limit(1)).first()
    return (row[0], row[1], row[2]) if row else None


def _who(contact: EnterpriseContact, account: EnterpriseAccount, enterprise: Enterprise) -> tuple[EnterpriseSession, str]:
    return (EnterpriseSession(account_id=account.id, enterprise_id=enterprise.id, contact_id=contact.id,
                              enterprise_name=enterprise.name, contact_name=contact.name,
                              district_id=enterprise.district_id),
            f"{contact.session_generation}.{account.session_generation}")


def _named(identifier: str) -> tuple[str, str]:
    named = identify(identifier)
    if named is None:
        raise ValidationFailed({"identifier": "请输入已登记的手机号或邮箱"})
    return named


def _count_request(session: Session, out: Outgoing, channel: str, address: str, ip: str) -> None:
    """Every request for a code counts, whoever the mobile or email belongs to (a login_attempt row under a keyed
    hash of it, never the address itself): the same limits answer the same way for an address with no account,
    so neither a refusal nor its wait tells whether one exists."""
    hour = out.now - timedelta(hours=1)
    if session.scalar(select(func.count(LoginAttempt.id)).where(
            LoginAttempt.ip == ip, LoginAttempt.at >= hour,
            LoginAttempt.username.startswith(REQUEST_PREFIX))) >= CODES_PER_ADDRESS_HOUR:
        raise TooFrequent("本网络地址一小时内获取验证码次数过多，请稍后再试")
    key = REQUEST_PREFIX + keyed_hash(out.secret, "code-request", channel, address)[:48]
    count, last = session.execute(select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
        LoginAttempt.username == key, LoginAttempt.at >= hour)).one()
    if last is not None and out.now - last < CODE_GAP:
        wait = math.ceil((CODE_GAP - (out.now - last)).total_seconds())
        raise TooFrequent(f"验证码发送过于频繁，请 {wait} 秒后再试")
    if count >= CODES_PER_HOUR:
        raise TooFrequent(f"一小时内最多获取 {CODES_PER_HOUR} 次验证码，请稍后再试，或改用密码登录")
    session.add(LoginAttempt(username=key, ip=ip, at=out.now, success=False))


def request_code(session: Session, out: Outgoing, identifier: str, ip: str) -> str:
    channel, address = _named(identifier)
    ip = ip[:64]
    _count_request(session, out, channel, address, ip)
    found = find_contact(session, channel, address, verified=True)
    if found is None:
        return SENT
    contact, _, enterprise = found
    code = f"{secrets.randbelow(10 ** 6):06d}"
    row = EnterpriseLoginCode(contact_id=contact.id, channel=channel, code_hash=keyed_hash(out.secret, "code", contact.id, code),
                              ip=ip, created_at=out.now, expires_at=out.now + timedelta(minutes=CODE_MINUTES), attempts=0)
    session.add(row)
    session.flush()
    notice = Notice(key=f"qiye-code:{row.id}", template="enterprise_login_code", link=None,
                    context={"code": code, "minutes": CODE_MINUTES, "enterprise": enterprise.name},
                    data={"event": "enterprise_login_code"})
    reached = out.notifier.notify_contact(session, notice, Contact(
        label=contact.name, **{"mobile" if channel == "sms" else "email": address}), out.now)
    if not reached:
        raise PortalRefused("验证码未能发出：系统未配置短信或邮件渠道，请改用密码登录或联系服务专员")
    audit(session, "qiye_code_sent", f"qiye:{contact.id}", out.now, channel=channel, ip=ip,
          enterprise_id=enterprise.id)
    return SENT


def check_code(session: Session, out: Outgoing, identifier: str, code: str, ip: str
               ) -> tuple[tuple[EnterpriseSession, str] | None, str | None]:
    """(the session and its stamp, None) or (None, why): a wrong try is counted, so the caller commits either way."""
    channel, address = _named(identifier)
    code = (code or "").strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None, "请输入 6 位数字验证码"
    found = find_contact(session, channel, address, verified=True)
    if found is None:
        return None, WRONG_CODE
    contact, account, enterprise = found
    row = session.scalar(select(EnterpriseLoginCode).where(EnterpriseLoginCode.contact_id == contact.id)
                         .order_by(EnterpriseLoginCode.created_at.desc(), EnterpriseLoginCode.id.desc()).limit(1))
    if row is None or row.used_at is not None:
        return None, WRONG_CODE
    if row.expires_at <= out.now:
        return None, f"验证码已过期（{CODE_MINUTES} 分钟内有效），请重新获取"
    if row.attempts >= MAX_ATTEMPTS:
        return None, "验证码错误次数过多，请重新获取"
    if not same_hash(row.code_hash, keyed_hash(out.secret, "code", contact.id, code)):
        row.attempts += 1
        audit(session, "qiye_code_wrong", f"qiye:{contact.id}", out.now, ip=ip[:64], attempts=row.attempts)
        left = MAX_ATTEMPTS - row.attempts
        return None, f"验证码错误，还可尝试 {left} 次" if left else "验证码错误次数过多，请重新获取"
    claimed = session.execute(update(EnterpriseLoginCode).where(
        EnterpriseLoginCode.id == row.id, EnterpriseLoginCode.used_at.is_(None)).values(used_at=out.now))
    if not claimed.rowcount:  # type: ignore[attr-defined]  # the same code used at the same moment elsewhere
        return None, WRONG_CODE
    audit(session, "qiye_signed_in", f"qiye:{contact.id}", out.now, by="code", channel=channel, ip=ip[:64],
          enterprise_id=enterprise.id)
    return _who(contact, account, enterprise), None


def check_password(session: Session, out: Outgoing, identifier: str, password: str, ip: str
                   ) -> tuple[tuple[EnterpriseSession, str] | None, str | None]:
    channel, address = _named(identifier)
    key, ip = f"qiye:{address}"[:64], ip[:64]
    wait = throttle.verdict(session, key, ip, None, out.now)
    if wait.wait_seconds:
        return None, f"登录失败次数较多，请 {wait.wait_seconds} 秒后再试，或改用验证码登录"
    found = find_contact(session, channel, address, verified=False)
    if found is not None and found[0].password_hash:
        ok = check_password_hash(found[0].password_hash, password)
    else:
        throttle.dummy_check(password)
        ok = False
    session.add(LoginAttempt(username=key, ip=ip, at=out.now, success=ok))
    if not ok or found is None:
        return None, "手机号/邮箱或密码错误"
    audit(session, "qiye_signed_in", f"qiye:{found[0].id}", out.now, by="password", ip=ip, enterprise_id=found[2].id)
    return _who(*found), None


def set_password(session: Session, now: datetime, who: EnterpriseSession, old: str, new: str, confirm: str) -> str:
    """The contact's own password (the first needs no old one); every other session of theirs ends."""
    contact = session.get(EnterpriseContact, who.contact_id)
    errors = {}
    if contact.password_hash and not check_password_hash(contact.password_hash, old or ""):
        errors["old_password"] = "原密码不正确"
    if len(new or "") < MIN_PASSWORD:
        errors["new_password"] = f"新密码至少 {MIN_PASSWORD} 位"
    if new != confirm:
        errors["confirm_password"] = "两次输入的新密码不一致"
    if errors:
        raise ValidationFailed(errors)
    first = contact.password_hash is None
    contact.password_hash = generate_password_hash(new)
    contact.session_generation += 1
    audit(session, "qiye_password_set", f"qiye:{contact.id}", now, first=first, enterprise_id=who.enterprise_id)
    account = session.get(EnterpriseAccount, contact.account_id)
    return f"{contact.session_generation}.{account.session_generation}"


def load(session: Session, contact_id: int, stamp: str) -> EnterpriseSession | None:
    """The session's contact while the contact and the account are active and neither generation moved."""
    row = session.execute(select(EnterpriseContact, EnterpriseAccount, Enterprise)
                          .join(EnterpriseAccount, EnterpriseAccount.id == EnterpriseContact.account_id)
                          .join(Enterprise, Enterprise.id == EnterpriseAccount.enterprise_id)
                          .where(EnterpriseContact.id == contact_id)).first()
    if row is None or not row[0].active or row[1].status != "active":
        return None
    who, current = _who(row[0], row[1], row[2])
    return who if current == stamp else None


def sign_out(session: Session, now: datetime, who: EnterpriseSession) -> None:
    contact = session.get(EnterpriseContact, who.contact_id)
    if contact is not None:
        contact.session_generation += 1
        audit(session, "qiye_signed_out", f"qiye:{contact.id}", now, enterprise_id=who.enterprise_id)
