"""The enterprise portal's pool part (issue 19): the enterprise's self-check is the admission's own decision and
explanation; its yearly figures reach the registry only when its service officer confirms them; it applies to the
pool itself (once); the 公示 lists admissions in their notice and anyone's objection reaches the dispatcher."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import actor_for
from engine.identity.org import get_user
from engine.policy.pool.portal import PortalUser
from engine.storage.models import (
    Attachment,
    Enterprise,
    EnterpriseChange,
    EnterpriseYear,
    GuidanceGap,
    InboxMessage,
    ItemLink,
    OutboxMessage,
)
from engine.storage.models.pool_portal import NoticeObjection
from tests.helpers import GOOD, YEARS, apply, register, uscc

pytestmark = pytest.mark.usefixtures("clock")  # 2026-11-04: the decision reads 2025's figures
OTHER = uscc("91500114MA5U8YYY7")
FIGURES = {"revenue": "26000000", "rd_expense": "780000", "net_profit": "1500000", "total_assets": "40000000",
           "total_liabilities": "22000000", "employees": "185"}


def who(enterprise_id: int, contact_id: int | None = None) -> PortalUser:
    return PortalUser(enterprise_id=enterprise_id, contact_id=contact_id, contact_name="李经理")


def portal_contact(zjtx, enterprise_id: int, email: str) -> int:
    """The enterprise's portal account and a contact whose email is verified (as an accepted invitation leaves)."""
    from engine.storage.models import EnterpriseAccount, EnterpriseContact

    with zjtx.db.write() as session:
        account = EnterpriseAccount(enterprise_id=enterprise_id, status="active", origin="invitation")
        session.add(account)
        session.flush()
        contact = EnterpriseContact(account_id=account.id, name="李经理", email=email, email_verified=True)
        session.add(contact)
        session.flush()
        return contact.id


def actor(zjtx, username):
    with zjtx.db.read() as session:
        return actor_for(session, username)


def open_task(zjtx, instance_id, bpmn_id):
    [task] = [t for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == bpmn_id]
    return task


def into_notice(zjtx, instance_id):
    zjtx.workflows.complete(open_task(zjtx, instance_id, "industry_review")["id"], {"review_approved": True},
                            "commerce_commission_liaison")
    zjtx.workflows.complete(open_task(zjtx, instance_id, "commission_review")["id"], {"review_approved": True},
                            "dispatcher")


def inbox(zjtx, username) -> list[InboxMessage]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage).where(InboxMessage.user_id == user.id)))


def test_the_self_check_is_the_admissions_decision_and_explanation(zjtx):
    short = [*YEARS[:2], {**YEARS[2], "rd_expense": 260_000}]  # 1% R&D: one mandatory criterion fails
    enterprise_id = register(zjtx, years=short)
    check = zjtx.pool_portal.self_check(enterprise_id)
    assert check["eligible"] is False and check["may_apply"] is False
    assert any("上年研发投入占营业收入比重" in line and "不符合" in line for line in check["next_steps"])
    started = apply(zjtx)  # the admission on the same figures
    assessment = zjtx.queries.show(started["id"])["data"]["assessment"]
    assert check["criteria"] == assessment["criteria"] and check["summary"] == assessment["summary"]
    assert zjtx.queries.show(started["id"])["item_status"] == "不符合培育条件"


def test_a_missing_figure_says_what_to_add_and_the_check_changes_nothing(zjtx):
    enterprise_id = register(zjtx, years=YEARS[:2])  # no 2025 figures
    with zjtx.db.read() as session:
        before = session.scalar(select(EnterpriseChange.id).order_by(EnterpriseChange.id.desc()).limit(1))
    check = zjtx.pool_portal.self_check(enterprise_id)
    assert check["eligible"] is None and not check["may_apply"]
    assert any("无法判定，缺少2025年营业收入" in line for line in check["next_steps"])
    with zjtx.db.read() as session:
        assert session.scalar(select(EnterpriseChange.id).order_by(EnterpriseChange.id.desc()).limit(1)) == before


def test_a_confirmed_yearly_update_lands_in_the_registry_with_its_change_log_and_guidance(zjtx):
    short = [*YEARS[:2], {**YEARS[2], "rd_expense": 260_000}]
    enterprise_id = register(zjtx, years=short)
    with zjtx.db.read() as session:
        assert session.scalar(select(GuidanceGap).where(GuidanceGap.enterprise_id == enterprise_id)) is not None
    update_id = zjtx.pool_portal.submit_year(who(enterprise_id), FIGURES)
    assert [m.title for m in inbox(zjtx, "officer")][-1].startswith("【年度数据】")  # the officer told at once
    with pytest.raises(Conflict):  # one pending update at a time
        zjtx.pool_portal.submit_year(who(enterprise_id), FIGURES)
    assert zjtx.pool_portal.self_check(enterprise_id)["latest_update"]["status_label"] == "待服务专员确认"
    [pending] = zjtx.pool_portal.pending_updates(actor(zjtx, "officer"))
    assert pending["id"] == update_id and pending["current"]["rd_expense"] == 260_000
    zjtx.pool_portal.decide_update(actor(zjtx, "officer"), update_id, True)
    with zjtx.db.read() as session:
        year = session.scalar(select(EnterpriseYear).where(EnterpriseYear.enterprise_id == enterprise_id,
                                                           EnterpriseYear.year == 2025))
        assert year.rd_expense == 780_000 and session.get(Enterprise, enterprise_id).employees == 185
        change = session.scalars(select(EnterpriseChange).where(EnterpriseChange.enterprise_id == enterprise_id)
                                 .order_by(EnterpriseChange.id.desc())).first()
        assert (change.source, change.actor) == ("enterprise", "officer")
        assert change.changes["2025.rd_expense"] == [260_000, 780_000] and change.changes["employees"] == [180, 185]
        # the save's re-runs: the gap is gone, the figures meet the standard now
        assert session.scalar(select(GuidanceGap).where(GuidanceGap.enterprise_id == enterprise_id)) is None
    check = zjtx.pool_portal.self_check(enterprise_id)
    assert check["eligible"] is True and check["may_apply"] and check["latest_update"]["status"] == "confirmed"
    with pytest.raises(Conflict):
        zjtx.pool_portal.decide_update(actor(zjtx, "officer"), update_id, False, "重复处理")


def test_a_refused_update_leaves_the_registry_unchanged_and_the_contact_is_told(mailing_zjtx):
    zjtx = mailing_zjtx
    enterprise_id = register(zjtx)
    contact_id = portal_contact(zjtx, enterprise_id, "li@example.com")
    with zjtx.db.read() as session:
        changes = session.scalar(select(EnterpriseChange.id).order_by(EnterpriseChange.id.desc()).limit(1))
    update_id = zjtx.pool_portal.submit_year(who(enterprise_id, contact_id), {**FIGURES, "revenue": "1"})
    with pytest.raises(ValidationFailed) as refused:
        zjtx.pool_portal.decide_update(actor(zjtx, "officer"), update_id, False, " ")
    assert refused.value.errors == {"reason": "「退回理由」不能为空"}
    zjtx.pool_portal.decide_update(actor(zjtx, "officer"), update_id, False, "营业收入与报表不符")
    with zjtx.db.read() as session:
        assert session.scalar(select(EnterpriseChange.id).order_by(EnterpriseChange.id.desc()).limit(1)) == changes
        assert session.scalar(select(EnterpriseYear.revenue).where(EnterpriseYear.enterprise_id == enterprise_id,
                                                                   EnterpriseYear.year == 2025)) == 26_000_000
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.address == "li@example.com"))
    assert "未通过确认" in mail.subject and "营业收入与报表不符" in mail.body
    update = zjtx.pool_portal.self_check(enterprise_id)["latest_update"]
    assert (update["status_label"], update["reason"]) == ("未通过确认", "营业收入与报表不符")


def test_figures_are_checked_field_by_field_and_only_ones_own_officer_decides(zjtx):
    enterprise_id = register(zjtx)
    with pytest.raises(ValidationFailed) as bad:
        zjtx.pool_portal.submit_year(who(enterprise_id), {**FIGURES, "revenue": "", "rd_expense": "-5",
                                                          "employees": "十"})
    assert bad.value.errors == {"revenue": "「营业收入（元）」不能为空", "rd_expense": "「研发投入（元）」不能为负数",
                                "employees": "「从业人员」应为非负整数（人）"}
    update_id = zjtx.pool_portal.submit_year(who(enterprise_id), FIGURES)
    assert zjtx.pool_portal.pending_updates(actor(zjtx, "dispatcher"))[0]["id"] == update_id
    with pytest.raises(PermissionDenied):
        zjtx.pool_portal.pending_updates(actor(zjtx, "commerce_commission_liaison"))
    with pytest.raises(NotFound):
        zjtx.pool_portal.decide_update(actor(zjtx, "commerce_commission_liaison"), update_id, True)


def test_an_application_starts_the_admission_linked_to_the_enterprise_and_a_second_is_refused(zjtx):
    enterprise_id = register(zjtx)
    with pytest.raises(ValidationFailed) as bad:  # a refused file: nothing started
        zjtx.pool_portal.apply(who(enterprise_id), "申请入库", [("材料.pdf", b"not a pdf")])
    assert bad.value.errors == {"file": "文件内容与扩展名 .pdf 不符"}
    assert zjtx.pool_portal.admissions(enterprise_id) == []
    started = zjtx.pool_portal.apply(who(enterprise_id), "申请入库，材料见附件", [("审计报告.pdf", b"%PDF-1.4 x")])
    shown = zjtx.queries.show(started["id"])
    assert shown["data"]["channel"] == "application" and shown["data"]["enterprise_uscc"] == GOOD
    with zjtx.db.read() as session:
        assert session.get(ItemLink, started["id"]).enterprise_id == enterprise_id
        [file] = session.scalars(select(Attachment).where(Attachment.instance_id == started["id"]))
        assert file.filename == "审计报告.pdf"
    with pytest.raises(Conflict) as again:
        zjtx.pool_portal.apply(who(enterprise_id))
    assert f"入库申请 {started['business_key']} 正在办理中" in again.value.message
    [admission] = zjtx.pool_portal.admissions(enterprise_id)
    assert admission["words"] == "行业主管部门审核中" and not admission["finished"]
    assert zjtx.pool_portal.self_check(enterprise_id)["may_apply"] is False
    other = register(zjtx, uscc=OTHER, name="重庆黔江某另一家有限公司")
    with pytest.raises(NotFound):  # another enterprise's admission is not there for it
        zjtx.pool_portal.admission(other, started["id"])
    with zjtx.db.write() as session:
        session.get(Enterprise, other).in_pool = True
    with pytest.raises(Conflict, match="已在培育库中"):
        zjtx.pool_portal.apply(who(other))


def test_the_notice_lists_admissions_in_notice_only_and_an_objection_reaches_the_dispatcher(zjtx):
    enterprise_id = register(zjtx)
    other = register(zjtx, uscc=OTHER, name="重庆黔江某另一家有限公司")
    in_notice = zjtx.pool_portal.apply(who(enterprise_id))
    reviewing = zjtx.pool_portal.apply(who(other))
    assert zjtx.notices.current() == []
    into_notice(zjtx, in_notice["id"])
    [listed] = zjtx.notices.current()
    assert (listed["id"], listed["uscc"], listed["industry"]) == (in_notice["id"], GOOD, "批发业")
    assert listed["notice_until"].isoformat() == "2026-11-11"  # 5 working days after 11-04
    assert zjtx.pool_portal.admissions(enterprise_id)[0]["words"] == "公示中，公示期至 2026-11-11"
    with pytest.raises(NotFound):
        zjtx.notices.object(reviewing["id"], {"name": "张三", "contact": "13800001111", "reason": "该企业研发投入数据不实"})
    with pytest.raises(ValidationFailed) as bad:
        zjtx.notices.object(in_notice["id"], {"name": "", "contact": "abcdef", "reason": "不实"})
    assert bad.value.errors == {"name": "「姓名或单位」不能为空", "contact": "「联系方式」应为电话号码或电子邮箱",
                                "reason": "「异议理由」至少 10 个字"}
    objection = zjtx.notices.object(in_notice["id"], {"name": "张三", "contact": "13800001111",
                                                      "reason": "该企业2025年研发投入数据与实际不符"}, "10.0.0.8")
    [told] = [m for m in inbox(zjtx, "dispatcher") if m.title.startswith("【公示异议】")]
    assert "研发投入数据与实际不符" in told.body and told.link == f"/items/{in_notice['id']}"
    with zjtx.db.read() as session:
        assert session.get(NoticeObjection, objection).address == "10.0.0.8"
    [seen] = zjtx.notices.objections(actor(zjtx, "dispatcher"), in_notice["id"])
    assert (seen["name"], seen["contact"]) == ("张三", "13800001111")
    assert zjtx.notices.objections(actor(zjtx, "commerce_commission_liaison"), in_notice["id"]) == []
    # Registered on 公示期异议登记, the office weighs it: the notice stays listed, as under check, and comes back
    # with its last day when the objection is dismissed.
    zjtx.workflows.complete(open_task(zjtx, in_notice["id"], "public_notice")["id"],
                            {"objection": "张三（13800001111）：该企业2025年研发投入数据与实际不符"}, "dispatcher")
    [listed] = zjtx.notices.current()
    assert (listed["id"], listed["under_check"], listed["notice_until"]) == (in_notice["id"], True, None)
    assert zjtx.notices.one(in_notice["id"])["under_check"]
    zjtx.workflows.complete(open_task(zjtx, in_notice["id"], "resolve_objection")["id"],
                            {"objection_upheld": False, "objection_resolution": "经核查，研发投入数据属实"}, "office")
    [listed] = zjtx.notices.current()
    assert (listed["under_check"], listed["notice_until"].isoformat()) == (False, "2026-11-11")


def test_the_contact_who_applied_is_told_the_result_with_its_reasons(mailing_zjtx):
    zjtx = mailing_zjtx
    enterprise_id = register(zjtx, years=[*YEARS[:2], {**YEARS[2], "rd_expense": 260_000}])  # 1% R&D
    contact_id = portal_contact(zjtx, enterprise_id, "li@example.com")
    started = zjtx.pool_portal.apply(who(enterprise_id, contact_id))  # decided at once: 不符合
    with zjtx.db.read() as session:
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.address == "li@example.com"))
    assert "暂不符合培育条件" in mail.subject and started["business_key"] in mail.body
    assert "上年研发投入占营业收入比重：1.00%，标准 ≥ 2%，不符合" in mail.body
    [admission] = zjtx.pool_portal.admissions(enterprise_id)
    assert admission["finished"] and admission["words"] == "不符合培育条件，未入库"
    assert admission["reasons"] == [mail.body.split("- ")[1].split("\n")[0]]
