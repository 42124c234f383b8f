"""The inbox opens where the work is: 全部待办 by urgency, 已办 apart from 已办结, a step waiting for an
extension decision stays in 办理中, overdue steps say how late they are."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.identity.authz import actor_for
from engine.queries.tasks import TABS, InboxFilter, days_left_label
from tests.helpers import Browser, Item, head, liaison, visit
from web import create_app

pytestmark = pytest.mark.sqlite_only
LEAD, CO = "区科技局", "区财政局"
EXTENSION = {"handle_action": "request_extension", "extension_reason": "需上报市级部门审批",
             "extension_due_date": "2099-01-15"}


def inbox(zjtx, user: str, tab: str | None = None) -> dict:
    with zjtx.db.read() as session:
        actor = actor_for(session, user)
    return zjtx.queries.inbox(actor, InboxFilter(tab=tab) if tab else InboxFilter())


def page(zjtx, user: str, url: str = "/") -> str:
    browser = Browser(create_app(services=zjtx, config={"TESTING": True}))
    assert browser.login(user).status_code == 302
    response = browser.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def dispatched(zjtx) -> Item:
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=5, co={CO: 3})
    return item


def test_a_liaison_whose_only_work_is_a_signature_sees_it_on_opening(zjtx):
    dispatched(zjtx)
    opened = inbox(zjtx, liaison(LEAD))
    assert opened["tab"] == "all" and [t["name"] for t in opened["items"]] == ["签收"]
    html = page(zjtx, liaison(LEAD))
    assert 'data-tab="all"' in html and "签收" in html and "没有任务" not in html
    assert 'class="active" data-tab="all"' in html


def test_all_work_is_ordered_overdue_first_then_by_deadline(zjtx, clock):
    late, soon = dispatched(zjtx), dispatched(zjtx)
    late.sign(LEAD)  # 办理答复 due in five working days; 签收 of the other is due in one
    clock.shift(timedelta(days=10))  # both overdue; the 签收 by more
    newer = dispatched(zjtx)  # not overdue
    rows = inbox(zjtx, liaison(LEAD))["items"]
    assert [(r["instance_id"], r["name"]) for r in rows] == [
        (soon.id, "签收"), (late.id, "办理答复"), (newer.id, "签收")]
    assert rows[0]["overdue"] and rows[1]["overdue"] and not rows[2]["overdue"]
    assert rows[0]["days_left_label"].startswith("已逾期 ") and rows[0]["days_left_label"].endswith(" 个工作日")
    assert rows[2]["days_left_label"] == "剩余 1 个工作日"


def test_overdue_steps_say_how_late_they_are_not_a_negative_remainder(zjtx, clock):
    dispatched(zjtx)
    clock.shift(timedelta(days=7))
    html = page(zjtx, liaison(LEAD))
    assert "已逾期" in html and "剩余 -" not in html
    assert days_left_label(-2) == "已逾期 2 个工作日"
    assert days_left_label(3) == "剩余 3 个工作日" and days_left_label(0) == "今天到期"
    assert days_left_label(0, overdue=True) == "已逾期" and days_left_label(None) == ""


def test_done_lists_my_steps_and_closed_lists_closed_items_once(zjtx):
    open_item, closed_item = dispatched(zjtx), Item(zjtx)
    open_item.sign(LEAD)
    closed_item.to_review(LEAD)
    closed_item.do("review", {"review_decision": "accept"}, "dispatcher")
    closed_item.do("rating", visit(), "officer")
    done = inbox(zjtx, liaison(LEAD), "completed")["items"]
    assert {(r["instance_id"], r["name"]) for r in done} == {
        (open_item.id, "签收"), (closed_item.id, "签收"), (closed_item.id, "办理答复")}
    # the head signed the answer off (负责人审核) and did nothing else
    assert [r["name"] for r in inbox(zjtx, head(LEAD), "completed")["items"]] == ["负责人审核"]
    closed = inbox(zjtx, liaison(LEAD), "closed")["items"]
    assert [(r["instance_id"], r["status_label"]) for r in closed] == [(closed_item.id, "已办结")]
    assert [r["instance_id"] for r in inbox(zjtx, head(LEAD), "closed")["items"]] == [closed_item.id]  # their department's
    html = page(zjtx, liaison(LEAD), "/?tab=closed")
    assert html.count(f'/items/{closed_item.id}"') == 0 and closed_item.key in html
    assert TABS["completed"] == "已办" and TABS["closed"] == "已办结"


def test_a_step_waiting_for_an_extension_decision_stays_in_progress(zjtx):
    item = dispatched(zjtx)
    item.sign(LEAD)
    item.do("handle", EXTENSION, liaison(LEAD), LEAD)
    waiting = inbox(zjtx, liaison(LEAD), "in_progress")
    assert [(r["name"], r["status_label"], r["waiting"]) for r in waiting["items"]] == [("办理答复", "延期审批中", True)]
    assert waiting["counts"]["in_progress"] == 1
    assert [r["status_label"] for r in inbox(zjtx, liaison(LEAD))["items"]] == ["延期审批中"]  # in 全部待办 too
    html = page(zjtx, liaison(LEAD), "/?tab=in_progress")
    assert "延期审批中" in html and f'/items/{item.id}"' in html
    assert inbox(zjtx, liaison(CO), "in_progress")["items"] == []  # another department's request is not theirs
    item.do("decide_extension_office", {"extension_approved": True}, "office")  # a long one
    back = inbox(zjtx, liaison(LEAD), "in_progress")["items"]
    assert [(r["name"], r["status_label"], r["waiting"]) for r in back] == [("办理答复", "办理中", False)]
    assert back[0]["due_local"].date().isoformat() == "2099-01-15"


def test_an_empty_tab_says_what_will_come_and_where(zjtx):
    html = page(zjtx, liaison(LEAD))
    assert "目前没有待办" in html and "消息" in html and "1 个工作日内签收" in html
    dispatched(zjtx)
    empty = page(zjtx, liaison(LEAD), "/?tab=in_progress")
    assert "没有办理中的任务" in empty and "查看全部待办（1）" in empty


@pytest.mark.parametrize("tab", ["all", "in_progress"])
def test_a_tab_of_open_and_waiting_steps_pages_through_both_in_deadline_order(zjtx, tab):
    """全部待办 and 办理中 read their open steps and the steps awaiting a decision apart, each in index order, and
    merge them: page by page they hold every row once, in the order of the whole list."""
    items = []
    for days in (7, 3, 9, 5):
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD, days=days)
        item.sign(LEAD)
        items.append(item)
    items[0].do("handle", EXTENSION, liaison(LEAD), LEAD)  # waits for the office's decision
    with zjtx.db.read() as session:
        actor = actor_for(session, liaison(LEAD))
    whole = zjtx.queries.inbox(actor, InboxFilter(tab=tab, per_page=50))["items"]
    assert len(whole) >= 4 and sum(r["waiting"] for r in whole) == 1
    assert [r["id"] for r in whole] == [r["id"] for r in sorted(whole, key=lambda r: (r["due_at"], r["id"]))]
    paged, number = [], 1
    while True:
        shown = zjtx.queries.inbox(actor, InboxFilter(tab=tab, per_page=3, page=number))
        paged += shown["items"]
        if not shown["has_next"]:
            break
        number += 1
    assert number == -(-len(whole) // 3) and [r["id"] for r in paged] == [r["id"] for r in whole]
