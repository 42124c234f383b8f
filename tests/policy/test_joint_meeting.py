"""联席会议 (issue 18, point 3): a quarterly meeting whose agenda builds itself from the open work (items under
挂牌督办, items rated 不满意 twice, rulings pending, measures rated 滞后) plus the dispatcher's own topics; the
office approves it; after the meeting the dispatcher records attendance, discussions and decisions; each decision
is dispatched as a problem item (source 联席会议) traced back to its meeting; the minutes as a Word document.
Through the service layer, reloading between steps, on both databases."""
from __future__ import annotations

import io

import pytest
import time_machine
from docx import Document

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.policy.meetings.procedure import MEETING_SCHEDULE
from engine.policy.meetings.service import MeetingService
from engine.scheduling.scheduler import Scheduler
from tests.helpers import Item, at, liaison, visit

LEAD = "区科技局"
TODAY = "2026-11-04"  # the clock fixture's day (Beijing)


def tasks(zjtx, instance_id: int, bpmn_id: str) -> list[dict]:
    return [t for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == bpmn_id]


def crafted(zjtx) -> dict:
    """One item of each source, built through the services."""
    listed = Item(zjtx)
    listed.accept()
    listed.dispatch(LEAD, days=5)
    listed.sign(LEAD)
    zjtx.listings.start("office", listed.id, {"listing_reason": "企业反映用地问题久拖未决", "slip_colour": "黄",
                                              "new_deadline": "2026-11-20"})
    unhappy = Item(zjtx)
    unhappy.to_review(LEAD)
    unhappy.do("review", {"review_decision": "accept"}, "dispatcher")
    for _ in range(2):
        unhappy.do("rating", visit("不满意", "未解决", "问题没有解决"), "officer")
        unhappy.rework(LEAD, "再次协调")
        unhappy.do("review", {"review_decision": "accept"}, "dispatcher")
    once = Item(zjtx)  # rated 不满意 once only: not on the agenda
    once.to_review(LEAD)
    once.do("review", {"review_decision": "accept"}, "dispatcher")
    once.do("rating", visit("不满意", "未解决", "问题没有解决"), "officer")
    ruling = Item(zjtx)
    ruling.accept()
    ruling.dispatch("区商务委")
    ruling.do("sign", {"sign_decision": "return", "return_reason": "不属于本单位职责"}, liaison("区商务委"), "区商务委")
    ruling.do("redispatch", {"redispatch_action": "request_ruling", "ruling_request_reason": "两单位职责交叉"},
              "dispatcher")
    measure = zjtx.workflows.start("measure_supervision", {"measure_no": 11, "period_start": "2026-07-01",
                                                           "period_end": "2026-09-30"}, actor="dispatcher")
    [consolidate] = tasks(zjtx, measure["id"], "consolidate")
    zjtx.workflows.complete(consolidate["id"], {"progress_report": "银企对接活动尚未开展。"},
                            "economy_info_commission_liaison")
    [assess] = tasks(zjtx, measure["id"], "assess")
    zjtx.workflows.complete(assess["id"], {"assessment": "滞后", "assessment_comment": "未按计划开展",
                                           "follow_up_working_days": 10}, "dispatcher")
    return {"listed": listed, "unhappy": unhappy, "once": once, "ruling": ruling}


RECORD = {
    "held_on": TODAY, "place": "区经济信息委三楼会议室", "chair": "区经济信息委主任王某",
    "attendance": [{"department": "区经济信息委", "person": "王某"}, {"department": LEAD, "person": "李某"}],
    "topics": [{"title": "用地问题", "discussion": "会议认为须由区规划自然资源局牵头协调用地指标。"}],
    "decisions": [
        {"topic": "用地问题", "text": "协调解决某企业扩产用地指标", "enterprise_name": "重庆某精密制造有限公司",
         "category": "用地", "lead_department": "区规划自然资源局", "due_date": "2026-11-30"},
        {"topic": "融资问题", "text": "组织银企对接会解决企业流动资金缺口", "category": "融资",
         "lead_department": "区金融办", "due_date": "2026-12-15"},
    ],
}


def held(zjtx) -> tuple[dict, MeetingService]:
    """A meeting started, its agenda prepared (one added topic), approved and its minutes recorded."""
    started = zjtx.workflows.start("joint_meeting", {"meeting_label": "2026年第四季度"}, actor="dispatcher")
    [prepare] = tasks(zjtx, started["id"], "prepare_agenda")
    zjtx.workflows.complete(prepare["id"], {"added_topics": [{"title": "研究企业融资难问题", "note": "区金融办汇报"}]},
                            "dispatcher")
    [approve] = tasks(zjtx, started["id"], "approve_agenda")
    zjtx.workflows.complete(approve["id"], {"agenda_approved": True}, "office")
    [record] = tasks(zjtx, started["id"], "record_meeting")
    zjtx.workflows.complete(record["id"], RECORD, "dispatcher")
    return started, MeetingService.of(zjtx)


def test_the_agenda_builds_itself_from_the_open_work_and_the_decisions_become_items(zjtx, clock):
    made = crafted(zjtx)
    started = zjtx.workflows.start("joint_meeting", {}, actor="dispatcher")
    [prepare] = tasks(zjtx, started["id"], "prepare_agenda")
    assert prepare["roles"] == ["dispatcher"] and prepare["due_at"] is not None
    meetings = MeetingService.of(zjtx)
    [meeting] = meetings.archive("office")
    by_kind = {}
    for topic in meeting["agenda"]:
        by_kind.setdefault(topic["kind"], []).append(topic)
    assert [t["ref"] for t in by_kind["listed"]] == [made["listed"].key]
    assert [t["ref"] for t in by_kind["unsatisfied"]] == [made["unhappy"].key]  # not the item rated once
    assert [t["ref"] for t in by_kind["ruling"]] == [made["ruling"].key]
    assert [t["ref"] for t in by_kind["measure"]] == ["措施11"]
    summary = zjtx.queries.show(started["id"])["data"]["agenda_summary"]
    assert "【挂牌督办事项】" in summary and "【进展滞后措施】措施11" in summary
    with pytest.raises(PermissionDenied):  # a liaison, even the commission's own, cannot prepare the agenda
        zjtx.workflows.complete(prepare["id"], {"added_topics": []}, "economy_info_commission_liaison")
    with pytest.raises(NotFound):  # another unit's liaison does not even see the task
        zjtx.workflows.complete(prepare["id"], {"added_topics": []}, liaison(LEAD))
    zjtx.workflows.complete(prepare["id"], {"added_topics": [{"title": "研究企业融资难问题"}]}, "dispatcher")
    [approve] = tasks(zjtx, started["id"], "approve_agenda")
    with pytest.raises(ValidationFailed):
        zjtx.workflows.complete(approve["id"], {"agenda_approved": False}, "office")  # 退回 needs a comment
    zjtx.workflows.complete(approve["id"], {"agenda_approved": False, "agenda_comment": "请补充融资议题说明"}, "office")
    [prepare] = tasks(zjtx, started["id"], "prepare_agenda")
    zjtx.workflows.complete(prepare["id"], {"added_topics": [{"title": "研究企业融资难问题", "note": "金融中心汇报"}]},
                            "dispatcher")
    [approve] = tasks(zjtx, started["id"], "approve_agenda")
    zjtx.workflows.complete(approve["id"], {"agenda_approved": True}, "office")
    [meeting] = meetings.archive("office")
    assert meeting["status"] == "approved"
    assert [t["title"] for t in meeting["agenda"] if t["kind"] == "added"] == ["研究企业融资难问题"]
    [record] = tasks(zjtx, started["id"], "record_meeting")
    bad = {**RECORD, "decisions": [{**RECORD["decisions"][0], "due_date": "2026-11-01"}]}
    with pytest.raises(ValidationFailed):
        zjtx.workflows.complete(record["id"], bad, "dispatcher")
    zjtx.workflows.complete(record["id"], RECORD, "dispatcher")
    shown = zjtx.queries.show(started["id"])
    assert shown["status"] == "completed" and shown["data"]["meeting_number"] == "〔2026〕第1次"
    with pytest.raises(NotFound):  # a liaison sees no meeting
        meetings.dispatch(liaison(LEAD), meeting["id"])
    with pytest.raises(PermissionDenied):  # the office sees it; the dispatcher dispatches
        meetings.dispatch("office", meeting["id"])
    items = meetings.dispatch("dispatcher", meeting["id"])
    assert len(items) == 2 and meetings.dispatch("dispatcher", meeting["id"]) == []  # once only
    first = zjtx.queries.show(items[0]["id"])
    assert first["data"]["source"] == "联席会议" and first["data"]["enterprise_name"] == "重庆某精密制造有限公司"
    assert "主办单位区规划自然资源局" in first["data"]["description"]
    assert [t["task"] for t in zjtx.queries.tasks(instance_id=items[0]["id"])] == ["triage"]
    origin = meetings.origin("dispatcher", items[1]["id"])
    assert origin["label"] == "来自联席会议 〔2026〕第1次" and origin["lead_unit"] == "区金融办"
    assert origin["due_date"] == "2026-12-15" and meetings.origin("dispatcher", made["listed"].id) is None
    detail = meetings.detail("office", meeting["id"])
    assert [d["item_key"] for d in detail["decisions"]] == [i["business_key"] for i in items]
    assert [d["item_status"] for d in detail["decisions"]] == ["待研判", "待研判"]
    assert detail["can_dispatch"] is False


def test_the_minutes_are_a_word_document_in_the_official_layout(zjtx, clock):
    _started, meetings = held(zjtx)
    [meeting] = meetings.archive("dispatcher")
    items = meetings.dispatch("dispatcher", meeting["id"])
    name, content = meetings.minutes("office", meeting["id"])
    assert name == "联席会议纪要〔2026〕第1次.docx"
    text = "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)
    assert "联席会议〔2026〕第1次" in text and "联席会议纪要" in text
    assert "区经济信息委王某" in text and "须由区规划自然资源局牵头协调" in text
    assert "协调解决某企业扩产用地指标（主办单位：区规划自然资源局；办理期限：2026年11月30日" in text
    assert items[0]["business_key"] in text and "2026年11月4日" in text


def test_only_the_central_roles_see_meetings_and_the_schedule_is_quarterly(zjtx, clock):
    _started, meetings = held(zjtx)
    with pytest.raises(PermissionDenied):
        meetings.archive(liaison(LEAD))
    [meeting] = meetings.archive("leader")
    with pytest.raises(NotFound):
        meetings.minutes(liaison(LEAD), meeting["id"])
    with pytest.raises(PermissionDenied):  # a liaison cannot start one either
        zjtx.workflows.start("joint_meeting", {}, actor=liaison(LEAD))
    [schedule] = [s for s in zjtx.schedules.list() if s["name"] == MEETING_SCHEDULE]
    assert schedule["rule"] == "workday:10:1,4,7,10@09:00"


def test_the_quarterly_schedule_starts_a_meeting_whose_agenda_builds_itself_unattended(zjtx):
    with time_machine.travel(at("2026-09-20 10:00"), tick=False) as moving:
        [schedule] = [s for s in zjtx.schedules.list() if s["name"] == MEETING_SCHEDULE]
        zjtx.schedules.save(schedule["name"], schedule["process"], schedule["rule"], schedule["data"])
        moving.move_to(at("2026-10-19 09:00:01"))  # the 9th working day of October 2026: not yet
        assert Scheduler(zjtx).run_until_idle()["schedules"] == 0
        moving.move_to(at("2026-10-20 09:00:01"))  # 10-08, 09, 10 (make-up), 12 … 20: the 10th
        assert Scheduler(zjtx).run_until_idle()["schedules"] == 1
    [meeting] = MeetingService.of(zjtx).archive("office")
    assert meeting["status"] == "preparing" and tasks(zjtx, meeting["instance_id"], "prepare_agenda")
