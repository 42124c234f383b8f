"""The 企业问题交办 cycle, driven through the service layer on SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.errors import InstanceNotFound, PermissionDenied, TaskNotFound, TaskNotOpen, ValidationFailed
from engine.storage.models import AuditRecord, ProcessInstance
from tests.helpers import REGISTRATION, Item, head, liaison, visit

LEAD, CO1, CO2 = "区规划自然资源局", "正阳工业园区管委会", "区人力社保局"


def test_registered_problem_waits_for_triage_by_the_dispatcher(zjtx):
    item = Item(zjtx)
    shown = item.show()
    assert shown["business_key"].startswith("ZJTX-")
    assert shown["title"] == "重庆黔江某精密制造有限公司：用地问题"
    assert shown["item_status"] == "待研判"
    [task] = item.open_tasks()
    assert (task["task"], task["department"], task["status"]) == ("triage", "区经济信息委", "in_progress")
    assert shown["data"]["enterprise_name"] == REGISTRATION["enterprise_name"]


def test_registration_is_checked_against_the_register_form(zjtx):
    with pytest.raises(ValidationFailed) as caught:
        zjtx.workflows.start("problem_dispatch", {"enterprise_name": "某公司", "category": "土地",
                                                  "source": "服务专员", "secret": 1}, actor="dispatcher")
    errors = caught.value.errors
    assert errors["description"] == "「问题描述」为必填项"
    assert "问题类别" in errors["category"] and "用地" in errors["category"]
    assert "secret" in errors["secret"]


def test_only_dispatchers_and_service_officers_register_problems(zjtx):
    with pytest.raises(PermissionDenied):
        zjtx.workflows.start("problem_dispatch", dict(REGISTRATION), actor=liaison(LEAD))
    assert Item(zjtx, actor="officer").show()["started_by"] == "officer"


def test_rejected_problem_ends_with_the_reason_kept(zjtx):
    item = Item(zjtx)
    with pytest.raises(ValidationFailed) as caught:
        item.do("triage", {"triage_decision": "reject"}, "dispatcher")
    assert caught.value.errors == {"triage_reason": "「理由」为必填项"}
    item.do("triage", {"triage_decision": "reject", "triage_reason": "属于企业自身经营事项"}, "dispatcher")
    shown = item.show()
    assert (shown["status"], shown["item_status"]) == ("completed", "不予受理")
    assert shown["data"]["triage_reason"] == "属于企业自身经营事项"
    assert item.open_tasks() == []


def test_duplicate_problem_is_merged_into_an_existing_item(zjtx):
    first = Item(zjtx)
    second = Item(zjtx)
    with pytest.raises(ValidationFailed) as caught:
        second.do("triage", {"triage_decision": "merge", "duplicate_of": "ZJTX-1999-99999"}, "dispatcher")
    assert "ZJTX-1999-99999" in caught.value.errors["duplicate_of"]
    second.do("triage", {"triage_decision": "merge", "duplicate_of": first.key}, "dispatcher")
    shown = second.show()  # it follows its master (tests/policy/test_merged_items.py): open, waiting
    assert (shown["status"], shown["item_status"], shown["data"]["duplicate_of"]) == \
        ("running", "已合并，随主件办理", first.key)
    assert second.open_tasks() == [] and first.show()["status"] == "running"


def test_dispatch_gives_each_department_its_own_sign_task(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=5, co={CO1: 3, CO2: 4})
    tasks = item.open_tasks()
    assert sorted((t["task"], t["department"], t["status_label"]) for t in tasks) == sorted([
        ("sign", LEAD, "待签收"), ("sign", CO1, "待签收"), ("sign", CO2, "待签收")])
    assignments = {a["department"]: a for a in item.data()["assignments"]}
    assert assignments[LEAD]["role"] == "lead" and assignments[LEAD]["due_working_days"] == 5
    assert assignments[CO1]["role"] == "co" and assignments[CO1]["due_working_days"] == 3
    # A liaison's task list holds their own department's task only.
    mine = zjtx.queries.tasks(actor=liaison(CO1))
    assert [(t["task"], t["department"]) for t in mine] == [("sign", CO1)]


def test_dispatch_form_refuses_unknown_and_repeated_departments(zjtx):
    item = Item(zjtx)
    item.accept()
    with pytest.raises(ValidationFailed) as caught:
        item.do("dispatch", {"lead_department": "区不存在局", "lead_due_working_days": 0,
                             "co_handlers": [{"department": "区税务局"}]}, "dispatcher")
    errors = caught.value.errors
    assert errors["lead_department"] == "「主办单位」中的部门「区不存在局」不存在"
    assert errors["lead_due_working_days"] == "「主办单位办理期限（工作日）」不能小于 1"
    assert errors["co_handlers[0].due_working_days"] == "「协办期限（工作日）」为必填项"
    with pytest.raises(ValidationFailed) as caught:
        item.do("dispatch", {"lead_department": "黔江区税务局", "lead_due_working_days": 5,
                             "co_handlers": [{"department": "区税务局", "due_working_days": 3}]}, "dispatcher")
    assert "重复" in caught.value.errors["co_handlers[0].department"]
    # The alias is accepted and stored under the canonical name.
    item.do("dispatch", {"lead_department": "区税务局", "lead_due_working_days": 5}, "dispatcher")
    assert [t["department"] for t in item.open_tasks()] == ["黔江区税务局"]


def test_returned_task_goes_back_to_the_dispatcher_for_redispatch(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch("区商务委", co={CO1: 3})
    with pytest.raises(ValidationFailed):
        item.do("sign", {"sign_decision": "return"}, liaison("区商务委"), "区商务委")
    item.do("sign", {"sign_decision": "return", "return_reason": "不属于本单位职责"}, liaison("区商务委"), "区商务委")
    redispatch = item.task("redispatch")
    assert redispatch["department"] == "区经济信息委"
    assert item.task("sign", CO1)["status"] == "to_sign"  # the co-handler is not held up
    item.do("redispatch", {"new_department": LEAD, "new_due_working_days": 6}, "dispatcher")
    item.sign(LEAD)
    item.sign(CO1)
    item.answer(CO1, "园区已梳理可调剂用地")
    item.answer(LEAD, "已调整用地指标并办理手续")
    data = item.data()
    lead = next(o for o in data["outcomes"] if o["role"] == "lead")
    assert lead["department"] == LEAD and lead["due_working_days"] == 6
    assert [(r["department"], r["reason"]) for r in lead["returns"]] == [("区商务委", "不属于本单位职责")]
    assert data["lead_department"] == LEAD


def test_co_handlers_answer_to_the_lead_and_the_leads_answer_is_the_items_answer(zjtx):
    item = Item(zjtx)
    item.to_review(LEAD, co={CO1: 3, CO2: 3})
    review = item.task("review")
    assert review["department"] == "区经济信息委"
    data = item.data()
    assert data["item_answer"] == f"{LEAD}已办理完毕"
    assert sorted(a["department"] for a in data["co_answers"]) == sorted([CO1, CO2])
    assert item.show()["item_status"] == "待审核"


def test_review_sends_back_for_rework_with_a_reason(zjtx):
    item = Item(zjtx)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "send_back", "review_reason": "答复未说明办理时限"}, "dispatcher")
    rework = item.task("rework")
    assert rework["department"] == LEAD
    assert item.data()["rework_reason"] == "答复未说明办理时限"
    assert item.show()["item_status"] == "退办整改"
    item.do("rework", {"rework_answer": "已明确于12月底前完成"}, head(LEAD))
    item.sign_off(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    assert item.task("rating")["department"] == "区经济信息委"
    assert item.data()["item_answer"] == "已明确于12月底前完成"
    assert item.show()["item_status"] == "待回访评价"  # it said 待审核 until the rating


def test_an_accepted_item_waits_for_dispatch_as_such(zjtx):
    item = Item(zjtx)
    item.accept()
    assert item.show()["item_status"] == "待交办"  # it said 待研判 while waiting at 交办
    item.dispatch(LEAD)
    assert item.show()["item_status"] == "办理中"


def test_satisfied_rating_closes_and_archives_the_item(zjtx):
    item = Item(zjtx)
    item.to_review(LEAD, co={CO1: 2})
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    item.do("rating", visit("基本满意"), "officer")
    shown = item.show()
    assert (shown["status"], shown["item_status"]) == ("completed", "已办结")
    assert shown["completed_at"] is not None and item.open_tasks() == []
    assert shown["history"][-1]["action"] == "instance_completed"


def test_unsatisfied_rating_reopens_the_item_at_most_twice_then_goes_to_the_office(zjtx):
    item = Item(zjtx)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    for _ in range(2):
        item.do("rating", visit("不满意", "未解决", "问题没有解决"), "officer")
        assert item.show()["item_status"] == "重办"
        item.rework(LEAD, "再次协调")
        item.do("review", {"review_decision": "accept"}, "dispatcher")
    item.do("rating", visit("不满意", "未解决", "仍未解决"), "officer")
    office = item.task("office_decision")
    assert office["roles"] == ["leading_group_office"]
    with pytest.raises(PermissionDenied):
        zjtx.workflows.complete(office["id"], {"office_conclusion": "提交联席会议"}, "dispatcher")
    item.do("office_decision", {"office_conclusion": "提交联席会议研究解决"}, "office")
    shown = item.show()
    assert (shown["status"], shown["item_status"]) == ("completed", "已办结")
    assert shown["data"]["reopen_count"] == 2
    assert [h["kind"] for h in shown["data"]["rework_history"]] == ["unsatisfied"] * 3


def test_extension_request_moves_the_deadline_only_when_approved(zjtx, clock):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=5)
    item.sign(LEAD)
    original = item.data()["assignment"]["due_date"]
    original_due_at = item.task("handle", LEAD)["due_at"]
    assert original_due_at.startswith(original)  # end of that day in Beijing time is 15:59:59 UTC
    with pytest.raises(ValidationFailed) as caught:
        item.do("handle", {"handle_action": "request_extension", "extension_reason": "需上报市级部门",
                           "extension_due_date": "2020-01-01"}, liaison(LEAD), LEAD)
    assert "今天之后" in caught.value.errors["extension_due_date"]
    request = {"handle_action": "request_extension", "extension_reason": "需上报市级部门审批",
               "extension_due_date": "2026-11-13"}
    item.do("handle", request, liaison(LEAD), LEAD)
    decision = item.task("decide_extension")
    assert decision["department"] == "区经济信息委"
    with pytest.raises(ValidationFailed):  # refusing needs a reason
        item.do("decide_extension", {"extension_approved": False}, "dispatcher")
    item.do("decide_extension", {"extension_approved": False, "extension_comment": "理由不充分"}, "dispatcher")
    assignment = item.data()["assignment"]
    assert assignment["due_date"] == original and assignment["extensions"][0]["approved"] is False
    assert item.task("handle", LEAD)["due_at"] == original_due_at
    item.do("handle", request, liaison(LEAD), LEAD)
    item.do("decide_extension", {"extension_approved": True}, "dispatcher")
    assignment = item.data()["assignment"]
    assert assignment["due_date"] == "2026-11-13"
    assert [e["approved"] for e in assignment["extensions"]] == [False, True]
    handle = item.task("handle", LEAD)
    assert handle["status"] == "in_progress" and handle["due_at"] == "2026-11-13T15:59:59+00:00"


def test_a_liaison_acts_on_their_own_department_only(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, co={CO1: 3})
    foreign = item.task("sign", CO1)
    with pytest.raises(TaskNotFound):  # another department's task does not even exist for them
        zjtx.workflows.complete(foreign["id"], {"sign_decision": "sign"}, liaison(LEAD))
    with pytest.raises(InstanceNotFound):
        zjtx.queries.show(item.id, actor=liaison("区财政局"))
    assert zjtx.queries.show(item.id, actor=liaison(LEAD))["id"] == item.id
    with pytest.raises(PermissionDenied):  # the dispatcher does not sign for a department
        zjtx.workflows.complete(foreign["id"], {"sign_decision": "sign"}, "dispatcher")
    triage_done = zjtx.queries.tasks(instance_id=item.id, status="completed")[0]
    assert triage_done["completed_by"] == "dispatcher"
    item.sign(LEAD)  # the liaison who signs for it carries on with the handling
    assert item.task("handle", LEAD)["assignee"] == liaison(LEAD)
    assert item.task("sign", CO1)["assignee"] is None


def test_a_finished_task_cannot_be_finished_again(zjtx):
    item = Item(zjtx)
    triage = item.task("triage")
    item.accept()
    with pytest.raises(TaskNotOpen):
        zjtx.workflows.complete(triage["id"], {"triage_decision": "accept"}, "dispatcher")
    assert [t["task"] for t in item.open_tasks()] == ["dispatch"]


def test_every_step_is_audited_with_who_what_and_the_data(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=7)
    history = item.show()["history"]
    actions = [(h["action"], h["task"]) for h in history]
    assert actions[:3] == [("start", None), ("task_created", "研判"), ("complete", "研判")]
    dispatch = next(h for h in history if h["action"] == "complete" and h["task"] == "交办")
    assert dispatch["actor"] == "dispatcher" and dispatch["actor_name"] == "区经济信息委交办员"
    assert dispatch["data"]["lead_department"] == LEAD and dispatch["data"]["lead_due_working_days"] == 7
    created = [h for h in history if h["action"] == "task_created" and h["task"] == "签收"]
    assert [h["data"]["department"] for h in created] == [LEAD]


def test_instance_state_is_stored_without_the_spec(zjtx):
    item = Item(zjtx)
    item.accept()
    with zjtx.db.read() as session:
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.id == item.id))
        state = json.loads(instance.state_json)
        assert "spec" not in state and "subprocess_specs" not in state
        assert instance.serializer_version == "1.5"
        assert instance.revision == 3  # insert, then one update per completed step
        assert len(instance.state_json) < len(instance.version.spec_json)
        assert session.scalar(select(AuditRecord.id).where(AuditRecord.instance_id == item.id)) is not None


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_instances_survive_a_restart_between_steps(database_url, make_engine):
    engines = []

    def fresh():
        services = make_engine(database_url)
        engines.append(services)
        return services

    item = Item(fresh())
    for step in (lambda i: i.accept(), lambda i: i.dispatch(LEAD), lambda i: i.sign(LEAD),
                 lambda i: i.answer(LEAD, "已解决")):
        item.services = fresh()
        step(item)
    item.services = fresh()
    assert item.task("review")["department"] == "区经济信息委"
    for services in engines:
        services.close()
