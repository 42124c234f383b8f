"""回访 (issue 17, point 6): the service officer records how and when the enterprise was reached, whom, and
solved and satisfied as separate answers; 未能联系上企业 is recorded as such, and an item nobody reached
within the window (a process property) closes as 未回访, counted apart; 解决率 stands beside 满意率."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.errors import PermissionDenied, ValidationFailed
from engine.policy.dispatch.figures import compute, satisfaction
from engine.scheduling.scheduler import Scheduler
from tests.helpers import Item, visit

BJ = ZoneInfo("Asia/Shanghai")
LEAD = "区科技局"
UNREACHABLE = {"visit_reached": "unreachable", "visit_method": "电话", "visit_at": "2026-11-04 09:00",
               "visit_note": "拨打企业联系人电话两次无人接听"}


def reviewed(zjtx) -> Item:
    item = Item(zjtx)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    return item


def test_the_visit_is_recorded_by_the_service_officer_with_its_separate_answers(zjtx, clock):
    item = reviewed(zjtx)
    rating = item.task("rating")
    assert rating["roles"] == ["service_officer"]
    # The window: 5 working days after the review (Wednesday 11-04 → Wednesday 11-11), end of that day.
    assert item.data()["visit_due_date"] == "2026-11-11" and rating["due_at"] == "2026-11-11T15:59:59+00:00"
    with pytest.raises(PermissionDenied):  # the dispatcher does not rate its own review
        zjtx.workflows.complete(rating["id"], visit(), "dispatcher")
    with pytest.raises(ValidationFailed) as caught:  # reached: solved and satisfied are both asked
        item.do("rating", {**visit(), "solved": None}, "officer")
    assert "solved" in caught.value.errors
    item.do("rating", visit("基本满意", "部分解决"), "officer")
    shown = item.show()
    assert (shown["status"], shown["item_status"]) == ("completed", "已办结")
    data = shown["data"]
    assert (data["visit_method"], data["visit_at"], data["visit_person"]) == ("电话", "2026-10-20 09:30", "企业联系人张经理")
    assert (data["solved"], data["satisfied"], data["visit_result"]) == ("部分解决", "基本满意", "已回访")


def test_partly_solved_and_unsatisfied_reopens_the_item(zjtx, clock):
    item = reviewed(zjtx)
    with pytest.raises(ValidationFailed) as caught:  # 不满意 needs the enterprise's words
        item.do("rating", visit("不满意", "部分解决"), "officer")
    assert "rating_comment" in caught.value.errors
    item.do("rating", visit("不满意", "部分解决", "用地指标只解决了一半"), "officer")
    assert item.show()["item_status"] == "重办"
    assert item.data()["rework_history"][-1] == {"kind": "unsatisfied", "reason": "用地指标只解决了一半"}
    item.rework(LEAD, "已协调剩余指标")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    item.do("rating", visit("满意", "已解决"), "officer")
    assert item.show()["item_status"] == "已办结"


def test_an_enterprise_not_reached_is_recorded_as_such_and_closes_as_not_visited(zjtx, clock):
    item = reviewed(zjtx)
    with pytest.raises(ValidationFailed) as caught:  # no guessing: not reached, no answers
        item.do("rating", {**UNREACHABLE, "satisfied": "满意"}, "officer")
    assert "satisfied" in caught.value.errors
    item.do("rating", UNREACHABLE, "officer")
    data = item.data()
    assert data["visit_attempts"] == [{"method": "电话", "at": "2026-11-04 09:00", "note": "拨打企业联系人电话两次无人接听"}]
    assert data["solved"] is None and data["satisfied"] is None
    assert item.task("rating")["due_at"] == "2026-11-11T15:59:59+00:00"  # tried again within the same window
    assert item.show()["item_status"] == "待回访评价"
    clock.shift(timedelta(days=8))  # Thursday 11-12: the window is over
    Scheduler(zjtx).run_until_idle()
    shown = item.show()
    assert (shown["status"], shown["item_status"]) == ("completed", "已办结（未回访）")
    assert shown["data"]["visit_result"] == "未回访" and shown["data"]["satisfied"] is None
    with zjtx.db.read() as session:
        row = {r["department"]: r for r in compute(session, date(2026, 11, 1), date(2026, 11, 30), BJ)["table"]}[LEAD]
    assert (row["not_visited"], row["satisfaction_rate"], row["solved_rate"]) == (1, None, None)


def test_old_ratings_are_read_as_satisfaction():
    assert satisfaction({"rating_value": "基本满意"}) == "基本满意"  # stored before 回访 had its own answers
    assert satisfaction({"satisfied": "不满意", "solved": "未解决", "visit_reached": "reached"}) == "不满意"
    assert satisfaction({"visit_reached": "unreachable", "satisfied": None}) is None
