"""An enterprise's own problems in the portal (issue 19), through the service layer on both databases: it submits
a problem with a file, which arrives for 研判 as an item with the source 企业自主提交 linked to its registry record;
it follows the item (status, lead unit, deadline) and reads the answer only once the dispatcher's 审核通过 released
it; it rates the answer itself — 不满意 reopens the item as the staff 回访 does, a later 满意 closes it; its contact
is told at 受理, 答复 and 办结; another enterprise finds nothing; no internal text ever reaches it."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict, InstanceNotFound, ValidationFailed
from engine.identity.org import get_user
from engine.policy.circulars.service import table_columns
from engine.policy.dispatch.figures import compute
from engine.policy.enterprise_requests.service import SOURCE, Requester
from engine.storage.models import (
    Attachment,
    AuditRecord,
    EnterpriseAccount,
    EnterpriseContact,
    InboxMessage,
    ItemLink,
    OutboxMessage,
    ProcessInstance,
    User,
)
from tests.helpers import GOOD, RECORD, REGISTRATION, Item, head, liaison, register, uscc, visit

BJ = ZoneInfo("Asia/Shanghai")
LEAD, CO = "区规划自然资源局", "区财政局"
CONTACT = "张经理 13900000000 zhang.manager@example.com"
PDF = ("红线图.pdf", b"%PDF-1.4 the enterprise's drawing")
DESCRIPTION = "二期厂房扩建缺少建设用地指标，请协调解决。"
# What staff write that the enterprise must never read.
INTERNAL = ["主办单位初稿：指标尚在协调", "协办单位内部意见：财政暂无配套资金", "负责人意见：口径再核实",
            "交办员内部留言：该企业曾多次反映"]
ANSWER = "已协调园区调剂建设用地指标 20 亩，请于下月办理用地手续。"


def enterprise(zjtx, code: str = GOOD, name: str = RECORD["name"]) -> Requester:
    """The enterprise, registered, with an account and a contact as an accepted invitation leaves them."""
    enterprise_id = register(zjtx, uscc=code, name=name)
    with zjtx.db.write() as session:
        account = EnterpriseAccount(enterprise_id=enterprise_id, status="active", origin="invitation")
        session.add(account)
        session.flush()
        contact = EnterpriseContact(account_id=account.id, name="张经理", email=f"{code[-6:]}@example.com",
                                    email_verified=True)
        session.add(contact)
        session.flush()
        account_id, contact_id = account.id, contact.id
    return Requester(enterprise_id=enterprise_id, contact_name="张经理", account_id=account_id, contact_id=contact_id)


def submit(zjtx, who: Requester, files=(PDF,), **changes) -> dict:
    fields = {"category": "用地", "description": DESCRIPTION, "contact": CONTACT, **changes}
    return zjtx.enterprise_requests.submit(who, fields["category"], fields["description"], fields["contact"],
                                           list(files))


class Existing(Item):
    """An item the enterprise submitted, driven by staff through the usual steps."""

    def __init__(self, zjtx, instance_id: int):  # not Item.__init__: that would register another item
        self.services, self.id = zjtx, instance_id
        self.key = zjtx.queries.show(instance_id)["business_key"]


def to_review_with_internal_texts(item: Existing) -> None:
    item.accept()
    item.dispatch(LEAD, co={CO: 5})
    item.sign(LEAD)
    item.sign(CO)
    item.do("handle", {"handle_action": "answer", "answer": INTERNAL[0]}, liaison(LEAD), LEAD)
    item.sign_off(LEAD)
    item.do("handle", {"handle_action": "answer", "answer": INTERNAL[1]}, liaison(CO), CO)
    item.sign_off(CO)
    item.do("consolidate", {"consolidate_action": "answer", "consolidated_answer": ANSWER}, liaison(LEAD), LEAD)
    item.do("head_review", {"head_decision": "send_back", "head_comment": INTERNAL[2]}, head(LEAD), LEAD)
    item.do("consolidate", {"consolidate_action": "answer", "consolidated_answer": ANSWER}, liaison(LEAD), LEAD)
    item.sign_off(LEAD)


def test_a_submitted_problem_arrives_for_triage_linked_to_the_enterprise_with_its_file(zjtx, clock):
    who = enterprise(zjtx)
    with zjtx.db.read() as session:
        inactive = session.scalar(select(func.count(User.id)).where(User.active.is_(False)))
    made = submit(zjtx, who)
    item = Existing(zjtx, made["id"])
    data = item.data()
    assert (data["source"], data["enterprise_name"], data["enterprise_uscc"]) == (SOURCE, RECORD["name"], GOOD)
    assert data["contact"] == CONTACT and item.task("triage")["roles"] == ["dispatcher"]
    with zjtx.db.read() as session:
        assert session.get(ItemLink, item.id).enterprise_id == who.enterprise_id
        files = list(session.scalars(select(Attachment).where(Attachment.instance_id == item.id)))
        # the file names the contact who sent it, and no staff account (nor a stand-in one)
        assert [(f.filename, f.user_id, f.contact_id) for f in files] == [("红线图.pdf", None, who.contact_id)]
        assert session.scalar(select(func.count(User.id)).where(User.active.is_(False))) == inactive
        actions = [a.action for a in session.scalars(select(AuditRecord).where(AuditRecord.instance_id == item.id))]
        assert {"start", "attachment", "enterprise_submitted"} <= set(actions)
        dispatcher = get_user(session, "dispatcher")
        told = session.scalar(select(func.count(InboxMessage.id)).where(InboxMessage.user_id == dispatcher.id))
    assert told >= 1  # the dispatcher is told of the 研判 task at once
    shown = zjtx.enterprise_items.items(who)
    assert [(s["business_key"], s["status"]) for s in shown] == [(item.key, "已提交，等待受理")]


def test_a_bad_file_or_field_is_refused_by_name_and_nothing_is_registered(zjtx):
    who = enterprise(zjtx)
    with zjtx.db.read() as session:
        before = session.scalar(select(func.count(ProcessInstance.id)))
    with pytest.raises(ValidationFailed) as refused:
        submit(zjtx, who, files=[("图.pdf", b"not a pdf")])
    assert "file" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        submit(zjtx, who, category="买地")
    assert "category" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        submit(zjtx, who, description="太短")
    assert "description" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        submit(zjtx, who, contact="")
    assert "contact" in refused.value.errors
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(ProcessInstance.id))) == before
        assert session.scalar(select(func.count(Attachment.id))) == 0


def _to_contact(zjtx) -> list[str]:
    with zjtx.db.read() as session:
        return [m.subject for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.user_id.is_(None), OutboxMessage.address == "zhang.manager@example.com")
            .order_by(OutboxMessage.id))]


def test_the_enterprise_follows_its_item_reads_the_released_answer_and_rates_it(mailing_zjtx, clock):
    zjtx = mailing_zjtx
    who = enterprise(zjtx)
    item = Existing(zjtx, submit(zjtx, who)["id"])
    with zjtx.db.read() as session:
        from engine.identity.authz import actor_for
        dispatcher = actor_for(session, "dispatcher")
    zjtx.items.add_comment(dispatcher, item.id, INTERNAL[3])
    to_review_with_internal_texts(item)
    waiting = zjtx.enterprise_items.item(who, item.id)
    assert (waiting["status"], waiting["lead_department"], waiting["answers"]) == ("答复审核中", LEAD, [])
    assert not waiting["may_rate"]
    with pytest.raises(Conflict):  # nothing released yet
        zjtx.enterprise_requests.rate(who, item.id, "已解决", "满意", None)
    assert _to_contact(zjtx) == [f"【已受理】您提交的{RECORD['name']}「用地问题」已受理"]

    item.do("review", {"review_decision": "accept"}, "dispatcher")
    shown = zjtx.enterprise_items.item(who, item.id)
    assert shown["status"] == "已答复，请评价" and shown["may_rate"]
    assert [(a["text"], a["lead_department"]) for a in shown["answers"]] == [(ANSWER, LEAD)]
    assert _to_contact(zjtx)[-1].startswith("【已答复】")
    text = repr(shown) + repr(zjtx.enterprise_items.items(who))
    with zjtx.db.read() as session:
        staff = [get_user(session, u).display_name for u in (liaison(LEAD), head(LEAD), liaison(CO), "dispatcher")]
    for secret in INTERNAL + staff:
        assert secret not in text, secret

    with pytest.raises(ValidationFailed) as refused:  # 不满意 needs the enterprise's words
        zjtx.enterprise_requests.rate(who, item.id, "部分解决", "不满意", "")
    assert "rating_comment" in refused.value.errors
    zjtx.enterprise_requests.rate(who, item.id, "部分解决", "不满意", "指标只落实了一半")
    data = item.data()
    assert (data["visit_method"], data["rated_by"], data["visit_person"]) == ("企业自评", "enterprise", "张经理")
    assert item.show()["item_status"] == "重办" and item.task("rework", LEAD)
    assert data["rework_history"][-1] == {"kind": "unsatisfied", "reason": "指标只落实了一半"}
    reopened = zjtx.enterprise_items.item(who, item.id)
    assert reopened["status"] == "重新办理中" and not reopened["may_rate"]
    assert [(r["satisfied"], r["by_enterprise"]) for r in reopened["ratings"]] == [("不满意", True)]

    item.rework(LEAD, "已追加调剂指标 10 亩，用地手续可一次办结。")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    zjtx.enterprise_requests.rate(who, item.id, "已解决", "满意", "感谢")
    closed = zjtx.enterprise_items.item(who, item.id)
    assert closed["status"] == "已办结" and [a["text"] for a in closed["answers"]][-1].startswith("已追加")
    subjects = _to_contact(zjtx)
    assert [s[:5] for s in subjects] == ["【已受理】", "【已答复】", "【已答复】", "【已办结】"]
    with zjtx.db.read() as session:
        told = [a.data for a in session.scalars(select(AuditRecord).where(
            AuditRecord.instance_id == item.id, AuditRecord.action == "enterprise_told").order_by(AuditRecord.id))]
    assert [t["event"] for t in told] == ["enterprise_accepted", "enterprise_answered", "enterprise_answered",
                                          "enterprise_closed"]
    assert all(t["to"] == ["zhang.manager@example.com"] for t in told)


def test_another_enterprise_finds_nothing_of_it(zjtx, clock):
    mine = enterprise(zjtx)
    other = enterprise(zjtx, uscc("91500114MA5U9QTH0"), "重庆黔江另一家企业有限公司")
    item = Existing(zjtx, submit(zjtx, mine)["id"])
    assert zjtx.enterprise_items.items(other) == []
    with pytest.raises(InstanceNotFound):
        zjtx.enterprise_items.item(other, item.id)
    with pytest.raises(InstanceNotFound):
        zjtx.enterprise_requests.rate(other, item.id, "已解决", "满意", None)
    with pytest.raises(InstanceNotFound):  # an item staff registered for nobody: not the enterprise's either
        zjtx.enterprise_items.item(mine, Item(zjtx).id)


def test_the_circular_shows_enterprise_given_ratings_apart_from_staff_recorded_ones(zjtx, clock):
    who = enterprise(zjtx)
    own = Existing(zjtx, submit(zjtx, who)["id"])
    staff = Item(zjtx)
    for item in (own, staff):
        item.to_review(LEAD)
        item.do("review", {"review_decision": "accept"}, "dispatcher")
    zjtx.enterprise_requests.rate(who, own.id, "已解决", "满意", None)
    # A staff record claiming to be the enterprise's still counts as staff-recorded: who gave it decides.
    staff.do("rating", {**visit("基本满意", "部分解决"), "rated_by": "enterprise"}, "officer")
    with zjtx.db.read() as session:
        result = compute(session, date(2026, 11, 1), date(2026, 11, 30), BJ, with_members=True)
    row = {r["department"]: r for r in result["table"]}[LEAD]
    assert (row["satisfaction_rate"], row["solved_rate"]) == (100.0, 50.0)  # both ways count, as before
    assert (row["enterprise_satisfaction_rate"], row["enterprise_solved_rate"]) == (100.0, 100.0)
    rated = result["evidence"][LEAD]["rated"]
    assert sorted((m["business_key"], m["note"]) for m in rated) == sorted(
        [(own.key, "满意（企业自评）"), (staff.key, "基本满意（工作人员回访）")])
    assert [m["business_key"] for m in result["evidence"][LEAD]["enterprise_rated"]] == [own.key]
    columns = table_columns(result)
    assert columns.index("enterprise_satisfaction_rate") == columns.index("solved_rate") + 1


def test_an_item_staff_registered_for_the_enterprise_is_followed_too_but_its_contact_is_not_messaged(mailing_zjtx, clock):
    zjtx = mailing_zjtx
    who = enterprise(zjtx)
    with zjtx.db.read() as session:
        from engine.identity.authz import actor_for
        dispatcher = actor_for(session, "dispatcher")
    registered = zjtx.intake.register(dispatcher, {**REGISTRATION, "enterprise_id": who.enterprise_id, "contact": CONTACT})
    item = Existing(zjtx, registered["id"])
    assert [s["business_key"] for s in zjtx.enterprise_items.items(who)] == [item.key]
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    shown = zjtx.enterprise_items.item(who, item.id)
    assert [a["text"] for a in shown["answers"]] == [f"{LEAD}已办理完毕"] and shown["may_rate"]
    assert _to_contact(zjtx) == []  # staff keyed it in: the service officer's channel, as before
    with zjtx.db.write() as session:  # an answer reviewed before releases were recorded
        for record in session.scalars(select(AuditRecord).where(AuditRecord.instance_id == item.id,
                                                                 AuditRecord.action == "answer_released")):
            session.delete(record)
    before = zjtx.enterprise_items.item(who, item.id)
    assert (before["status"], before["may_rate"], before["answers"]) == ("已答复", False, [])
    with pytest.raises(Conflict):
        zjtx.enterprise_requests.rate(who, item.id, "已解决", "满意", None)


def test_a_refused_problem_tells_the_contact_why(mailing_zjtx, clock):
    zjtx = mailing_zjtx
    who = enterprise(zjtx)
    item = Existing(zjtx, submit(zjtx, who, files=())["id"])
    item.do("triage", {"triage_decision": "reject", "triage_reason": "属企业自身经营事项，不属本机制受理范围"}, "dispatcher")
    shown = zjtx.enterprise_items.item(who, item.id)
    assert shown["status"] == "不予受理" and shown["closed_on"] == "2026-11-04"
    with zjtx.db.read() as session:
        [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.address == "zhang.manager@example.com"))
    assert message.subject.startswith("【不予受理】") and "不属本机制受理范围" in message.body
