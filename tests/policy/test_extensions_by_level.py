"""Extensions by level (issue 17, point 5): the dispatcher decides short ones, the leading-group office long
ones, a task asks at most a set number of times, and the enterprise's service officer hears of each decision.
The limits are process properties of problem_dispatch.bpmn, which a district changes in the designer."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.org import get_user
from engine.storage.models import InboxMessage
from tests.helpers import REGISTRATION, ROOT, Item, counts, liaison, signed

LEAD = "区科技局"
# The clock fixture stops at Wednesday 2026-11-04; dispatched for 5 working days the task is due 11-11.
DUE = "2026-11-11"
SHORT = "2026-11-13"  # 2 working days more: the dispatcher's to decide (at most 5)
LONG = "2026-11-25"   # 10 working days more: the office's



def ask(item: Item, until: str, reason: str = "需上报市级部门审批") -> dict:
    return item.do("handle", {"handle_action": "request_extension", "extension_reason": reason,
                              "extension_due_date": until}, liaison(LEAD), LEAD)


def inbox(zjtx, username: str) -> list[tuple[str, str]]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.execute(select(InboxMessage.title, InboxMessage.body)
                                    .where(InboxMessage.user_id == user.id).order_by(InboxMessage.id)).all())


def test_a_short_extension_is_decided_by_the_dispatcher_and_the_service_officer_is_told(zjtx, clock):
    item = signed(zjtx)
    assert item.data()["assignment"]["due_date"] == DUE
    ask(item, SHORT)
    decision = item.task("decide_extension")
    assert decision["roles"] == ["dispatcher"] and decision["department"] == "区经济信息委"
    assert [t["task"] for t in item.open_tasks()] == ["decide_extension"]  # not the office's
    item.do("decide_extension", {"extension_approved": True}, "dispatcher")
    extension = item.data()["assignment"]["extensions"][-1]
    assert (extension["working_days"], extension["level"], extension["approved"]) == (2, "dispatcher", True)
    assert item.data()["assignment"]["due_date"] == SHORT
    assert item.task("handle", LEAD)["due_at"] == "2026-11-13T15:59:59+00:00"
    told = [(t, b) for t, b in inbox(zjtx, "officer") if t.startswith("【延期已批准】")]
    assert len(told) == 1
    title, body = told[0]
    assert "用地问题" in title and f"新的办理期限为 {SHORT}" in body and "交办员" in body and LEAD in body
    # The liaison who asked hears of the decision as before (the round after the notice keeps its cause).
    assert any(t.startswith("延期已批准") for t, _ in inbox(zjtx, liaison(LEAD)))


def test_a_long_extension_goes_to_the_leading_group_office(zjtx, clock):
    item = signed(zjtx)
    ask(item, LONG)
    decision = item.task("decide_extension_office")
    assert decision["roles"] == ["leading_group_office"]
    assert [t["task"] for t in item.open_tasks()] == ["decide_extension_office"]
    with pytest.raises(PermissionDenied):  # beyond the dispatcher's limit
        zjtx.workflows.complete(decision["id"], {"extension_approved": True}, "dispatcher")
    assert any(t.startswith("延期申请待审批") for t, _ in inbox(zjtx, "office"))
    item.do("decide_extension_office", {"extension_approved": False, "extension_comment": "期限过长，请加快办理"},
            "office")
    assignment = item.data()["assignment"]
    assert assignment["due_date"] == DUE  # refused: the deadline stays
    assert (assignment["extensions"][-1]["level"], assignment["extensions"][-1]["working_days"]) == ("office", 10)
    told = [b for t, b in inbox(zjtx, "officer") if t.startswith("【延期未批准】")]
    assert len(told) == 1 and "领导小组办公室" in told[0] and "期限过长" in told[0] and f"原期限 {DUE}" in told[0]
    assert any(t.startswith("延期未获批准") for t, _ in inbox(zjtx, liaison(LEAD)))


def test_a_third_request_is_refused_and_nothing_changes(zjtx, clock):
    item = signed(zjtx)
    ask(item, SHORT)
    item.do("decide_extension", {"extension_approved": False, "extension_comment": "理由不充分"}, "dispatcher")
    ask(item, SHORT, "市级部门尚未批复")
    item.do("decide_extension", {"extension_approved": True}, "dispatcher")
    before, data = counts(zjtx, item.id), item.data()
    with pytest.raises(ValidationFailed) as caught:
        ask(item, "2026-11-16", "仍需等待")
    message = caught.value.errors["handle_action"]
    assert "申请延期" in message and "至多申请延期 2 次" in message
    assert counts(zjtx, item.id) == before and item.data() == data
    item.answer(LEAD, "已按延长后的期限办理完毕")  # answering is still open
    assert item.show()["item_status"] == "待审核"


def test_the_limits_are_process_properties_a_district_changes_without_code(zjtx, clock):
    text = (ROOT / "processes" / "problem_dispatch.bpmn").read_text(encoding="utf-8")
    for name, old, new in (("extension_dispatcher_max_working_days", "5", "1"), ("extension_max_requests", "2", "1")):
        before = f'<spiffworkflow:property name="{name}" value="{old}"/>'
        assert text.count(before) == 1
        text = text.replace(before, f'<spiffworkflow:property name="{name}" value="{new}"/>')
    with zjtx.db.write() as session:  # as deployed from the designer and marked trusted by an administrator
        results = zjtx.registry.deploy(session, {"problem_dispatch.bpmn": text.encode("utf-8")},
                                       deployed_by="admin", trusted=True)
    assert [r.version for r in results if r.key == "problem_dispatch"] == [2]
    item = signed(zjtx)
    ask(item, SHORT)  # 2 working days: now beyond the dispatcher's 1
    item.do("decide_extension_office", {"extension_approved": True}, "office")
    with pytest.raises(ValidationFailed) as caught:
        ask(item, "2026-11-16")
    assert "至多申请延期 1 次" in caught.value.errors["handle_action"]


def test_an_approved_extension_is_told_to_the_enterprises_contact_when_it_has_one(mailing_zjtx, clock):
    from engine.storage.models import AuditRecord, OutboxMessage

    zjtx = mailing_zjtx  # email goes to the loopback SMTP server: the contact's address is a channel's recipient

    item = Item(zjtx, {**REGISTRATION, "contact": "张经理 zhang@qiye.example 13912345678"})
    item.accept()
    item.dispatch(LEAD, days=5)
    item.sign(LEAD)
    ask(item, SHORT)
    item.do("decide_extension", {"extension_approved": True}, "dispatcher")
    with zjtx.db.read() as session:
        sent = list(session.execute(select(OutboxMessage.channel, OutboxMessage.address, OutboxMessage.body)
                                    .where(OutboxMessage.key.like("extension:%:contact:%"))))
        told = session.scalars(select(AuditRecord).where(AuditRecord.instance_id == item.id,
                                                          AuditRecord.action == "enterprise_told")).all()
    assert [(c, a) for c, a, _ in sent] == [("email", "zhang@qiye.example")]  # no SMS gateway configured here
    assert f"办理期限延至 {SHORT}" in sent[0][2] and LEAD in sent[0][2]
    assert [t.data["to"] for t in told] == [["zhang@qiye.example"]]
    ask(item, "2026-11-16", "仍需等待")  # a refusal is not sent to the enterprise: its date does not change
    item.do("decide_extension", {"extension_approved": False, "extension_comment": "请按期办理"}, "dispatcher")
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.key.like("extension:%:contact:%"))) == 1


def test_an_extension_the_enterprise_could_not_be_told_of_is_recorded_as_not_told(mailing_zjtx, clock):
    from engine.queries.views import ACTION_LABELS
    from engine.storage.models import AuditRecord, OutboxMessage

    zjtx = mailing_zjtx  # email works, but the contact gave only a mobile number and no SMS gateway is configured
    item = Item(zjtx, {**REGISTRATION, "contact": "张经理 13912345678"})
    item.accept()
    item.dispatch(LEAD, days=5)
    item.sign(LEAD)
    ask(item, SHORT)
    item.do("decide_extension", {"extension_approved": True}, "dispatcher")
    with zjtx.db.read() as session:
        actions = session.scalars(select(AuditRecord.action).where(
            AuditRecord.instance_id == item.id, AuditRecord.action.like("enterprise_%"))).all()
        sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.key.like("extension:%:contact:%")))
    assert (actions, sent) == (["enterprise_not_reached"], 0)
    assert ACTION_LABELS["enterprise_not_reached"].startswith("未能告知企业")  # as the item's history shows it
