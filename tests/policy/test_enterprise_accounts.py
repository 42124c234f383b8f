"""企业端 accounts in the engine (engine/policy/portal): the service officer's invitation reaches the contact
by the local mail receiver and by the SMS gateway, accepting it opens the account and verifies that channel,
and the contact signs in with a one-time code received the same way; wrong, expired, used and over-tried codes,
the limits on codes, passwords and the audit trail. SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.policy.portal import EnterpriseAccounts, PortalRefused, TooFrequent
from engine.storage.models import AuditRecord, EnterpriseContact, EnterpriseInvitation, EnterpriseLoginCode, LoginAttempt
from tests.helpers import INVITE_LINK, LOGIN_CODE, newest_to, outbox, queue_email, register

MAIL = "zhang.manager@example.com"
MOBILE = "13800001111"
IP = "10.2.3.4"


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def audited(zjtx, *actions) -> list[str]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(AuditRecord.action).where(AuditRecord.action.in_(actions))
                                    .order_by(AuditRecord.id)))


def test_an_invitation_by_email_opens_the_account_and_a_mailed_code_signs_in(mailing_zjtx, smtp):
    zjtx = mailing_zjtx
    portal = EnterpriseAccounts.of(zjtx)
    enterprise_id = register(zjtx)
    sent = portal.invite("officer", enterprise_id, {"contact_name": "张经理", "email": MAIL})
    assert sent["sent"] == [{"channel": "email", "to": MAIL}]
    assert zjtx.deliverer.deliver_due() == 1
    [(to, mail)] = smtp.messages
    assert to == [MAIL] and mail["Subject"].startswith("【企业账号邀请】")
    token = INVITE_LINK.search(_body(mail)).group(1)
    shown = portal.invitation(token)
    assert (shown["state"], shown["contact_name"], shown["shown"]) == ("open", "张经理", "zh***@example.com")
    assert portal.accept(token)["identifier"] == MAIL
    with zjtx.db.read() as session:
        contact = session.scalar(select(EnterpriseContact))
    assert (contact.email_verified, contact.mobile_verified, contact.active) == (True, False, True)
    with pytest.raises(PortalRefused, match="已使用过"):
        portal.accept(token)  # single use

    assert "验证码已发送" in portal.request_code(MAIL, IP)
    zjtx.deliverer.deliver_due()
    code = LOGIN_CODE.search(smtp.messages[-1][1]["Subject"]).group(1)
    who, stamp = portal.sign_in_with_code(MAIL, code, IP)
    assert (who.enterprise_id, who.contact_name, who.enterprise_name) == (enterprise_id, "张经理", "重庆黔江某精密制造有限公司")
    assert portal.session(who.contact_id, stamp) == who
    with pytest.raises(PortalRefused):
        portal.sign_in_with_code(MAIL, code, IP)  # a code signs in once
    with zjtx.db.read() as session:
        stored = session.scalar(select(EnterpriseLoginCode))
    assert code not in stored.code_hash and stored.used_at is not None  # kept only as a keyed hash
    portal.sign_out(who)
    assert portal.session(who.contact_id, stamp) is None
    assert audited(zjtx, "qiye_invited", "qiye_invitation_accepted", "qiye_code_sent", "qiye_signed_in",
                   "qiye_signed_out") == ["qiye_invited", "qiye_invitation_accepted", "qiye_code_sent",
                                          "qiye_signed_in", "qiye_signed_out"]


def test_an_invitation_by_sms_and_a_texted_code(database_url, make_engine, sms_gateway):
    url, received = sms_gateway
    zjtx = make_engine(database_url, sms_gateway_url=url)
    try:
        portal = EnterpriseAccounts.of(zjtx)
        portal.invite("officer", register(zjtx), {"contact_name": "王经理", "mobile": "138 0000 1111"})
        assert zjtx.deliverer.deliver_due() == 1
        _, invitation = received[0]  # (Idempotency-Key, body)
        assert invitation["mobile"] == MOBILE and "【企业账号邀请】" in invitation["content"]
        token = INVITE_LINK.search(invitation["content"]).group(1)
        assert portal.invitation(token)["shown"] == "138****1111"
        portal.accept(token)
        portal.request_code(MOBILE, IP)
        zjtx.deliverer.deliver_due()
        code = LOGIN_CODE.search(received[-1][1]["content"]).group(1)
        who, _ = portal.sign_in_with_code("+86 138-0000-1111", code, IP)
        assert who.contact_name == "王经理"
    finally:
        zjtx.close()


@pytest.fixture
def contact(zjtx):
    """An invited contact who accepted by email (the email rows stay in the outbox)."""
    queue_email(zjtx)
    portal = EnterpriseAccounts.of(zjtx)
    portal.invite("officer", register(zjtx), {"contact_name": "张经理", "email": MAIL, "mobile": MOBILE})
    portal.accept(newest_to(zjtx, MAIL, INVITE_LINK))
    return portal


def test_a_channel_the_invitation_did_not_come_by_stays_unverified(zjtx, contact):
    with zjtx.db.read() as session:
        rows = list(session.scalars(select(EnterpriseInvitation)))
    assert [(r.channel, r.used_at is not None) for r in rows] == [("email", True)]  # no SMS gateway: no SMS link
    assert "验证码已发送" in contact.request_code(MOBILE, IP)  # the same answer, but no code for an unverified channel
    with zjtx.db.read() as session:
        assert session.scalar(select(EnterpriseLoginCode)) is None


def test_a_wrong_code_is_counted_and_the_fifth_wrong_try_ends_the_code(zjtx, contact, clock):
    contact.request_code(MAIL, IP)
    code = newest_to(zjtx, MAIL, LOGIN_CODE)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(PortalRefused, match=f"还可尝试 {left} 次"):
            contact.sign_in_with_code(MAIL, wrong, IP)
    with pytest.raises(PortalRefused, match="错误次数过多"):
        contact.sign_in_with_code(MAIL, wrong, IP)
    with pytest.raises(PortalRefused, match="错误次数过多"):
        contact.sign_in_with_code(MAIL, code, IP)  # the right one no longer helps
    with pytest.raises(PortalRefused, match="6 位数字"):
        contact.sign_in_with_code(MAIL, "12ab", IP)
    clock.shift(timedelta(seconds=61))
    contact.request_code(MAIL, IP)
    assert contact.sign_in_with_code(MAIL, newest_to(zjtx, MAIL, LOGIN_CODE), IP)[0].contact_name == "张经理"


def test_an_expired_code_is_refused(zjtx, contact, clock):
    contact.request_code(MAIL, IP)
    code = newest_to(zjtx, MAIL, LOGIN_CODE)
    clock.shift(timedelta(minutes=10, seconds=1))
    with pytest.raises(PortalRefused, match="已过期"):
        contact.sign_in_with_code(MAIL, code, IP)


def test_codes_are_limited_to_one_a_minute_and_five_an_hour_per_contact(zjtx, contact, clock):
    contact.request_code(MAIL, IP)
    with pytest.raises(TooFrequent, match=r"请 60 秒后再试"):
        contact.request_code(MAIL, "10.9.9.9")  # another address does not escape the contact's limit
    for _ in range(4):
        clock.shift(timedelta(seconds=61))
        contact.request_code(MAIL, IP)
    clock.shift(timedelta(seconds=61))
    with pytest.raises(TooFrequent, match="一小时内最多获取 5 次"):
        contact.request_code(MAIL, IP)
    clock.shift(timedelta(hours=1))
    assert "验证码已发送" in contact.request_code(MAIL, IP)


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(zjtx, contact):
    rows = len(outbox(zjtx))
    assert contact.request_code("nobody@example.com", IP) == contact.request_code(MAIL, IP)
    assert len(outbox(zjtx)) == rows + 1  # only the real contact's code
    with pytest.raises(ValidationFailed):
        contact.request_code("不是手机号", IP)


def test_asking_again_too_soon_is_refused_alike_with_or_without_an_account(zjtx, contact, clock):
    """The limits count requests per mobile or email, not per contact: a second request within the minute (or a
    sixth within the hour) is refused with the same words for an address nobody has, so a refusal does not
    tell that an account exists."""
    refusals = {}
    for address in (MAIL, "nobody@example.com", MOBILE, "13700009999"):
        contact.request_code(address, IP)
        clock.shift(timedelta(seconds=20))
        with pytest.raises(TooFrequent) as refused:
            contact.request_code(address, "10.9.9.9")
        refusals[address] = refused.value.message
        clock.shift(timedelta(seconds=-20))
    assert len(set(refusals.values())) == 1 and "请 40 秒后再试" in refusals[MAIL]
    for _ in range(4):
        clock.shift(timedelta(seconds=61))
        for address in (MAIL, "nobody@example.com"):
            contact.request_code(address, IP)
    clock.shift(timedelta(seconds=61))
    hourly = set()
    for address in (MAIL, "nobody@example.com"):
        with pytest.raises(TooFrequent) as refused:
            contact.request_code(address, IP)
        hourly.add(refused.value.message)
    assert len(hourly) == 1 and "一小时内最多获取 5 次" in hourly.pop()
    with zjtx.db.read() as session:  # the addresses are not kept in the clear
        names = set(session.scalars(select(LoginAttempt.username).where(LoginAttempt.username.startswith("qiye-code:"))))
    assert len(names) == 4 and not any("nobody" in n or "1370000" in n for n in names)


def test_a_password_signs_in_once_set_and_a_wrong_one_is_refused(zjtx, contact):
    contact.request_code(MAIL, IP)
    who, _ = contact.sign_in_with_code(MAIL, newest_to(zjtx, MAIL, LOGIN_CODE), IP)
    with pytest.raises(PortalRefused, match="密码错误"):
        contact.sign_in_with_password(MAIL, "whatever-123", IP)  # none set yet
    with pytest.raises(ValidationFailed) as refused:
        contact.set_password(who, "", "short", "short")
    assert set(refused.value.errors) == {"new_password"}
    contact.set_password(who, "", "qiye-pass-2026", "qiye-pass-2026")
    assert contact.sign_in_with_password(MAIL, "qiye-pass-2026", IP)[0].contact_id == who.contact_id
    assert contact.sign_in_with_password(MOBILE, "qiye-pass-2026", IP)[0].contact_id == who.contact_id
    with pytest.raises(PortalRefused, match="密码错误"):
        contact.sign_in_with_password(MAIL, "qiye-pass-2025", IP)
    with pytest.raises(ValidationFailed) as refused:
        contact.set_password(who, "wrong-old-1", "qiye-pass-2027", "qiye-pass-2027")
    assert set(refused.value.errors) == {"old_password"}


def test_an_invitation_expires_after_seven_days_and_only_the_officer_invites(zjtx, clock):
    queue_email(zjtx)
    portal = EnterpriseAccounts.of(zjtx)
    enterprise_id = register(zjtx)
    with pytest.raises(PermissionDenied):
        portal.invite("science_tech_bureau_liaison", enterprise_id, {"contact_name": "张经理", "email": MAIL})
    with pytest.raises(ValidationFailed) as refused:
        portal.invite("officer", enterprise_id, {"contact_name": "", "email": "not-an-address"})
    assert set(refused.value.errors) == {"contact_name", "email"}
    portal.invite("officer", enterprise_id, {"contact_name": "张经理", "email": MAIL})
    token = newest_to(zjtx, MAIL, INVITE_LINK)
    clock.shift(timedelta(days=7, seconds=1))
    assert portal.invitation(token)["state"] == "expired"
    with pytest.raises(PortalRefused, match="已过期"):
        portal.accept(token)
    assert portal.invitation("no-such-token") is None


def _registration(name="重庆黔江某精密制造有限公司", **changes) -> dict:
    from tests.helpers import GOOD

    return {"uscc": GOOD.lower(), "enterprise_name": name, "contact_name": "赵会计", "email": "zhao@example.com",
            **changes}


def test_a_registration_the_officer_confirms_opens_the_account_and_the_contact_is_told(zjtx, clock):
    from engine.identity.authz import actor_for

    queue_email(zjtx)
    portal = EnterpriseAccounts.of(zjtx)
    register(zjtx)
    for wrong in (_registration(name="重庆黔江某公司"), _registration(uscc="91500114MA5U8XXX70")):
        with pytest.raises(ValidationFailed) as refused:
            portal.register(wrong, IP)
        assert refused.value.errors == {"uscc": refused.value.errors["uscc"]} and "不一致" in refused.value.errors["uscc"]
    with pytest.raises(ValidationFailed) as refused:
        portal.register(_registration(email="", mobile="123"), IP)
    assert set(refused.value.errors) == {"mobile"}
    done = portal.register(_registration(), IP)
    assert len(done["told"]) == 1  # the enterprise's service officer (officer), not every dispatcher
    with zjtx.db.read() as session:
        officer = actor_for(session, "officer")
    [message] = [m for m in zjtx.inbox.messages(officer) if m.title.startswith("【企业账号注册】")]
    assert "赵会计" in message.body and "/enterprises/registrations" in (message.link or message.body)
    with pytest.raises(ValidationFailed, match="等待服务专员确认"):
        portal.register(_registration(contact_name="钱经理", email="qian@example.com"), IP)
    portal.request_code("zhao@example.com", IP)  # pending: no code
    assert not [m for m in outbox(zjtx) if m.address == "zhao@example.com"]
    [row] = portal.pending("officer")
    assert (row["contact_name"], row["email"]) == ("赵会计", "zhao@example.com")
    assert portal.pending("dispatcher") == [row]
    with pytest.raises(PermissionDenied):
        portal.pending("science_tech_bureau_liaison")
    portal.confirm("officer", row["account_id"])
    assert portal.pending("officer") == []
    assert "已开通" in newest_to(zjtx, "zhao@example.com", re.compile(r"(企业服务账号已开通)"))
    clock.shift(timedelta(seconds=61))  # a minute after the request made while pending (that one counts too)
    portal.request_code("zhao@example.com", IP)
    who, _ = portal.sign_in_with_code("zhao@example.com", newest_to(zjtx, "zhao@example.com", LOGIN_CODE), IP)
    assert who.contact_name == "赵会计"
    assert audited(zjtx, "qiye_registered", "qiye_confirmed") == ["qiye_registered", "qiye_confirmed"]


def test_a_refused_registration_needs_a_reason_tells_the_contact_and_may_be_made_again(zjtx):
    queue_email(zjtx)
    portal = EnterpriseAccounts.of(zjtx)
    register(zjtx)
    account_id = portal.register(_registration(), IP)["account_id"]
    with pytest.raises(ValidationFailed) as refused:
        portal.refuse("officer", account_id, "  ")
    assert set(refused.value.errors) == {"reason"}
    portal.refuse("officer", account_id, "申请人非本企业员工")
    assert "申请人非本企业员工" in newest_to(zjtx, "zhao@example.com", re.compile(r"理由：(\S+)。"))
    with pytest.raises(PortalRefused, match="已处理"):
        portal.confirm("officer", account_id)
    portal.request_code("zhao@example.com", IP)
    with zjtx.db.read() as session:
        assert session.scalar(select(EnterpriseLoginCode)) is None
    assert portal.register(_registration(contact_name="孙经理", email="sun@example.com"), IP)["account_id"] == account_id
    assert portal.summary("officer", portal.pending("officer")[0]["enterprise_id"])["status_label"] == "待服务专员确认"
    assert audited(zjtx, "qiye_refused") == ["qiye_refused"]


def test_an_invitation_settles_a_pending_registration(zjtx):
    queue_email(zjtx)
    portal = EnterpriseAccounts.of(zjtx)
    enterprise_id = register(zjtx)
    portal.register(_registration(), IP)
    portal.invite("officer", enterprise_id, {"contact_name": "张经理", "email": MAIL})
    portal.accept(newest_to(zjtx, MAIL, INVITE_LINK))
    assert portal.pending("officer") == []
    summary = portal.summary("officer", enterprise_id)
    assert summary["status_label"] == "已开通" and [c["name"] for c in summary["contacts"]] == ["赵会计", "张经理"]
    with pytest.raises(ValidationFailed, match="已开通企业账号"):
        portal.register(_registration(contact_name="钱经理", email="qian@example.com"), IP)


def test_a_disabled_account_ends_its_sessions_and_signs_nobody_in_until_enabled(zjtx, contact, clock):
    contact.request_code(MAIL, IP)
    who, stamp = contact.sign_in_with_code(MAIL, newest_to(zjtx, MAIL, LOGIN_CODE), IP)
    contact.set_password(who, "", "qiye-pass-2026", "qiye-pass-2026")
    with pytest.raises(NotFound):
        contact.set_enabled("science_tech_bureau_liaison", who.enterprise_id, False)
    contact.set_enabled("officer", who.enterprise_id, False)
    assert "已停用" in newest_to(zjtx, MAIL, re.compile(r"(企业服务账号已停用)"))
    assert contact.session(who.contact_id, stamp) is None
    with pytest.raises(PortalRefused, match="密码错误"):
        contact.sign_in_with_password(MAIL, "qiye-pass-2026", IP)
    clock.shift(timedelta(seconds=61))
    rows = len(outbox(zjtx))
    contact.request_code(MAIL, IP)
    assert len(outbox(zjtx)) == rows  # no code for a disabled account
    with pytest.raises(PortalRefused, match="已停用，不能停用"):
        contact.set_enabled("officer", who.enterprise_id, False)
    contact.set_enabled("officer", who.enterprise_id, True)
    assert contact.sign_in_with_password(MAIL, "qiye-pass-2026", IP)[0].contact_id == who.contact_id
    assert audited(zjtx, "qiye_disabled", "qiye_enabled") == ["qiye_disabled", "qiye_enabled"]


def test_a_countys_contact_signs_in_to_the_county_without_naming_it(zjtx):
    """One portal for the city: the invitation, the code and the session are found in the contact's district —
    on PostgreSQL through its row-level security too (the request starts in no district of its own)."""
    from engine.identity.authz import actor_for
    from engine.storage import district
    from tests.helpers import RECORD, YEARS, uscc

    county = zjtx.create_district("500243", "彭水县", demo_prefix="ps_")
    queue_email(zjtx)
    portal = EnterpriseAccounts.of(zjtx)
    with district.scope(county):
        with zjtx.db.read() as session:
            dispatcher = actor_for(session, "ps_dispatcher")
        enterprise_id = zjtx.enterprises.save(dispatcher, {**RECORD, "name": "彭水某食品有限公司",
                                                           "uscc": uscc("91500243MA5U8PXX1"), "industry": "批发业",
                                                           "tier": "无", "tier_since": None,
                                                           "service_officer": "ps_officer"}, years=YEARS)
        portal.invite("ps_officer", enterprise_id, {"contact_name": "刘经理", "email": MAIL})
        token = newest_to(zjtx, MAIL, INVITE_LINK)
    assert portal.invitation(token)["contact_name"] == "刘经理"
    portal.accept(token)
    portal.request_code(MAIL, IP)
    with district.scope(county):
        code = newest_to(zjtx, MAIL, LOGIN_CODE)
    who, _ = portal.sign_in_with_code(MAIL, code, IP)
    assert (who.district_id, who.enterprise_name) == (county, "彭水某食品有限公司")
    assert portal.session(who.contact_id, _) is not None
    with pytest.raises(ValidationFailed, match="不是本系统的区县"):
        portal.request_code(MAIL, IP, "500000")  # the city itself has no enterprises to sign in to
