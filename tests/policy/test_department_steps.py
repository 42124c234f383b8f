"""The procedure as departments run it (issue 17, points 1-3): 转办 to a named 承办人 and the head's sign-off
inside a department; co-handlers' parts consolidated by the lead unit, a part sent back to the unit that
wrote it; a task returned too often ruled on by the leading-group office after a 会商, the ruling binding.
Each step goes through the service layer, reading the item afresh between steps, on both databases."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.org import create_user, get_user
from engine.storage.models import InboxMessage
from tests.helpers import Item, counts, head, liaison

LEAD, CO = "区科技局", "区财政局"
HANDLER = "science_tech_bureau_handler"


def titles(zjtx, username: str) -> list[str]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)
                                    .order_by(InboxMessage.id)))


def signed_to(zjtx, handler: str | None) -> Item:
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    item.do("sign", {"sign_decision": "sign", "handler": handler}, liaison(LEAD), LEAD)
    return item


def test_a_liaison_assigns_the_task_to_a_handler_who_alone_of_the_handlers_may_answer(zjtx):
    with zjtx.db.write() as session:
        create_user(session, "second_handler", "科技局另一承办人", LEAD, ["handler"], password="x" * 12)
    item = signed_to(zjtx, HANDLER)
    handle = item.task("handle", LEAD)
    assert handle["roles"] == ["department_head", "handler", "liaison"]
    assert any(t.startswith("转办：") for t in titles(zjtx, HANDLER))  # told at once, by name
    assert not titles(zjtx, "second_handler")
    with pytest.raises(PermissionDenied) as refused:
        zjtx.workflows.complete(handle["id"], {"handle_action": "answer", "answer": "我来答"}, "second_handler")
    assert "指定的承办人" in refused.value.message
    item.do("handle", {"handle_action": "answer", "answer": "已协调规划指标"}, HANDLER, LEAD)
    assert item.task("head_review_slot", LEAD)["roles"] == ["department_head"]


def test_a_handler_must_be_a_handler_of_the_department(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    sign = item.task("sign", LEAD)
    before = counts(zjtx, item.id)
    for stranger in ("finance_bureau_handler", liaison(CO), "nobody"):
        with pytest.raises(ValidationFailed) as caught:
            zjtx.workflows.complete(sign["id"], {"sign_decision": "sign", "handler": stranger}, liaison(LEAD))
        assert "不是本部门在职的承办人" in caught.value.errors["handler"]
    assert counts(zjtx, item.id) == before


def test_the_head_sends_an_answer_back_and_signs_the_second_one_off(zjtx):
    item = signed_to(zjtx, None)
    item.answer(LEAD, "已协调", sign_off=False)
    sign_off = item.task("head_review_slot", LEAD)
    assert any(t.startswith("答复待负责人审核：") for t in titles(zjtx, head(LEAD)))
    with pytest.raises(PermissionDenied):  # the liaison cannot sign off their own answer
        zjtx.workflows.complete(sign_off["id"], {"head_decision": "approve"}, liaison(LEAD))
    with pytest.raises(ValidationFailed) as caught:
        item.do("head_review_slot", {"head_decision": "send_back"}, head(LEAD), LEAD)
    assert "head_comment" in caught.value.errors
    item.do("head_review_slot", {"head_decision": "send_back", "head_comment": "请写明完成时限"}, head(LEAD), LEAD)
    assert [t["task"] for t in item.open_tasks()] == ["handle"]
    assert item.data()["assignment"]["head_comments"][-1]["comment"] == "请写明完成时限"
    assert any(t.startswith("负责人退回修改：") for t in titles(zjtx, liaison(LEAD)))
    item.answer(LEAD, "已协调，12月底前完成")
    assert item.show()["item_status"] == "待审核" and item.data()["item_answer"] == "已协调，12月底前完成"


def test_the_lead_consolidates_sends_a_part_back_and_a_send_back_reaches_the_co_handler(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, co={CO: 3})
    item.sign(LEAD)
    item.sign(CO)
    item.answer(LEAD, "科技局：已协调规划指标")  # the lead's own part: no sign-off yet, it consolidates first
    assert item.open_tasks()[0]["task"] == "handle"
    item.answer(CO, "财政局：资金在研究")         # the co-handler's part leaves its department signed off
    consolidate = item.task("consolidate", LEAD)
    assert item.show()["item_status"] == "主办汇总" and item.data()["co_departments"] == [CO]
    assert any(t.startswith("待主办汇总：") for t in titles(zjtx, liaison(LEAD)))
    with pytest.raises(ValidationFailed) as caught:  # only the item's co-handlers can be sent back to
        zjtx.workflows.complete(consolidate["id"], {"consolidate_action": "send_back_part",
                                                    "part_department": "区商务委", "part_reason": "不具体"},
                                liaison(LEAD))
    assert "part_department" in caught.value.errors
    item.do("consolidate", {"consolidate_action": "send_back_part", "part_department": CO,
                            "part_reason": "请明确资金额度"}, liaison(LEAD), LEAD)
    assert item.task("revise_part", CO)["department"] == CO and item.show()["item_status"] == "协办单位修改"
    item.do("revise_part", {"revised_part": "财政局：安排专项资金50万元"}, liaison(CO), CO)
    item.sign_off(CO)
    assert item.data()["parts"][0]["answer"] == "财政局：安排专项资金50万元"
    item.consolidate(LEAD, "科技局汇总：规划指标已协调，财政局安排专项资金50万元")
    assert item.show()["item_status"] == "待审核"
    item.do("review", {"review_decision": "send_back", "send_back_department": CO,
                       "review_reason": "资金到位时间未说明"}, "dispatcher")
    assert item.task("revise_part", CO)  # the co-handler's part was at fault: it reworks it
    assert item.data()["rework_history"][-1]["department"] == CO
    item.do("revise_part", {"revised_part": "财政局：50万元12月10日前拨付"}, liaison(CO), CO)
    item.sign_off(CO)
    item.consolidate(LEAD, "科技局汇总：财政局50万元12月10日前拨付")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    assert item.data()["item_answer"] == "科技局汇总：财政局50万元12月10日前拨付"


def return_(item: Item, department: str, reason: str = "不属于本单位职责"):
    item.do("sign", {"sign_decision": "return", "return_reason": reason}, liaison(department), department)


def test_a_third_return_goes_to_a_ruling_after_a_consultation_which_binds(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch("区商务委")
    for source, target in (("区商务委", "区市场监管局"), ("区市场监管局", "区商务委")):
        return_(item, source)
        item.do("redispatch", {"new_department": target, "new_due_working_days": 5}, "dispatcher")
    return_(item, "区商务委", "第三次退回")
    ruling = item.task("remit_ruling")
    assert ruling["roles"] == ["leading_group_office"]
    assert [t["task"] for t in item.open_tasks()] == ["remit_ruling"]  # no more plain re-dispatch
    item.do("remit_ruling", {"ruling_action": "consult", "consult_at": "2026-12-08 09:30", "consult_place": "区经济信息委会议室",
                             "consult_departments": [{"department": "区商务委"}, {"department": "区市场监管局"}]},
            "office")
    for department in ("区商务委", "区市场监管局"):
        assert any(t.startswith("【会商通知】") for t in titles(zjtx, liaison(department)))
    item.do("consultation", {"consult_attendees": "区商务委张某、区市场监管局李某", "consult_outcome": "属市场监管职责",
                             "ruled_department": "区市场监管局", "ruled_due_working_days": 5}, "office")
    sign = item.task("sign", "区市场监管局")
    ruling_record = item.data()["assignment"]["rulings"][-1]
    assert (ruling_record["department"], ruling_record["consulted"]) == ("区市场监管局", ["区商务委", "区市场监管局"])
    assert ruling_record["returned_by"] == ["区商务委", "区市场监管局", "区商务委"]
    before = counts(zjtx, item.id)
    with pytest.raises(ValidationFailed) as caught:  # the ruling binds: no return
        zjtx.workflows.complete(sign["id"], {"sign_decision": "return", "return_reason": "仍不属于"},
                                liaison("区市场监管局"))
    assert "已由领导小组办公室审定" in caught.value.errors["sign_decision"]
    assert counts(zjtx, item.id) == before
    item.sign("区市场监管局")
    item.answer("区市场监管局", "已处理")
    assert item.data()["remit_rulings"][0]["department"] == "区市场监管局"


def test_the_dispatcher_may_ask_for_a_ruling_at_the_first_return(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch("区商务委")
    return_(item, "区商务委")
    with pytest.raises(ValidationFailed) as caught:
        item.do("redispatch", {"redispatch_action": "request_ruling"}, "dispatcher")
    assert "ruling_request_reason" in caught.value.errors
    item.do("redispatch", {"redispatch_action": "request_ruling", "ruling_request_reason": "两单位职责交叉"}, "dispatcher")
    item.do("remit_ruling", {"ruling_action": "rule", "ruled_department": "区商务委", "ruled_due_working_days": 3,
                             "ruling_reason": "按三定方案属商务委"}, "office")
    assert item.task("sign", "区商务委")
    assert item.data()["assignment"]["rulings"][-1]["requested"] == "两单位职责交叉"


def test_the_office_may_refer_a_hard_case_to_the_district_leader(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch("区商务委")
    return_(item, "区商务委")
    item.do("redispatch", {"redispatch_action": "request_ruling", "ruling_request_reason": "涉及三个部门"}, "dispatcher")
    item.do("remit_ruling", {"ruling_action": "refer_leader", "refer_reason": "部门职责交叉，请区领导定夺"}, "office")
    decision = item.task("leader_ruling")
    assert decision["roles"] == ["deputy_group_leader", "group_leader"] and decision["department"] == "区政府办"
    assert any(t.startswith("待区领导审定：") for t in titles(zjtx, "leader"))
    with pytest.raises(PermissionDenied):  # the office refers; the leader decides
        zjtx.workflows.complete(decision["id"], {"ruled_department": "区商务委", "ruled_due_working_days": 3,
                                                 "ruling_reason": "由商务委牵头"}, "office")
    item.do("leader_ruling", {"ruled_department": "区市场监管局", "ruled_due_working_days": 4,
                              "ruling_reason": "由市场监管局负责，商务委配合"}, "deputy_leader")
    record = item.data()["assignment"]["rulings"][-1]
    assert (record["by"], record["department"], record["referred"]) == ("leader", "区市场监管局", "部门职责交叉，请区领导定夺")
    assert item.task("sign", "区市场监管局")
    assert any(t.startswith("审定交办：") for t in titles(zjtx, liaison("区市场监管局")))
