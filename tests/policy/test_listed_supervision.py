"""挂牌督办 (issue 17, point 4): the leading-group office or a district leader lists an open item for supervision
at any time, with a reason, a slip colour, a new deadline and a report interval; the 组长 writes the 批示 when
the office asks; the numbered 督办函 (Word, 公文 layout) goes to the lead unit at once; the lead unit reports
every interval (each report a task with a deadline that escalates like any task); the office continues,
raises the slip or lifts the listing, naming the unit in the circular; the listing ends with its item.
Through the service layer, reloading between steps, on both databases."""
from __future__ import annotations

import io
import threading
from datetime import date, datetime, timedelta

import pytest
from docx import Document
from sqlalchemy import func, select

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.org import get_user
from engine.policy.circulars.document import ISSUER
from engine.policy.circulars.service import criticized
from engine.policy.supervision.listing import allocate_number
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import Escalation, InboxMessage, ListedSupervision
from tests.helpers import BJ, Item, counts, head, liaison, signed, visit

LEAD, OTHER = "区科技局", "区交通局"
# The clock fixture stops at Wednesday 2026-11-04, 10:00 in Beijing.
DEADLINE = "2026-11-20"  # a Friday
LISTING = {"listing_reason": "企业反映用地问题久拖未决", "slip_colour": "黄", "new_deadline": DEADLINE}



def listing_of(zjtx, item: Item) -> dict:
    [listing] = zjtx.listings.of_item("office", item.id)
    return listing


def open_tasks(zjtx, listing: dict) -> list[dict]:
    return zjtx.queries.tasks(instance_id=listing["instance_id"])


def the_task(zjtx, listing: dict, bpmn_id: str) -> dict:
    [task] = [t for t in open_tasks(zjtx, listing) if t["task"] == bpmn_id]
    return task


def inbox(zjtx, username: str) -> list[tuple[str, str, str | None]]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.execute(select(InboxMessage.title, InboxMessage.body, InboxMessage.link)
                                    .where(InboxMessage.user_id == user.id).order_by(InboxMessage.id)).all())


def test_the_office_lists_an_item_the_leader_instructs_and_the_letter_goes_to_the_lead_unit(zjtx, clock):
    item = signed(zjtx)
    started = zjtx.listings.start("office", item.id, {**LISTING, "ask_instruction": True})
    assert started["item_status"] == "待领导批示" and started["listing"]["number"] is None
    listing = listing_of(zjtx, item)
    assert (listing["status"], listing["colour"], listing["lead_unit"], listing["report_every"]) == \
        ("listing", "黄", LEAD, 5)  # the interval: the process property report_every_working_days
    instruct = the_task(zjtx, listing, "instruct")
    for leader in ("leader", "deputy_leader"):  # both district leaders hear of the 批示 asked of them
        assert any(t.startswith("新待办：挂牌督办：") for t, _, _ in inbox(zjtx, leader))
    assert instruct["department"] == "区政府办" and set(instruct["roles"]) == {"group_leader", "deputy_group_leader"}
    with pytest.raises(PermissionDenied):  # the office asks for the 批示, the leaders write it
        zjtx.workflows.complete(instruct["id"], {"instruction": "办公室代批"}, "office")
    assert not any(t.startswith("【挂牌督办】") for t, _, _ in inbox(zjtx, liaison(LEAD)))  # nothing issued yet

    zjtx.workflows.complete(instruct["id"], {"instruction": "请区科技局务必于本月20日前协调解决"}, "leader")
    listing = listing_of(zjtx, item)
    assert listing["status"] == "active" and listing["number"] == "黔江专精特新督〔2026〕1号"
    assert (listing["instruction"], listing["instruction_by"]) == ("请区科技局务必于本月20日前协调解决", "领导小组组长")
    # 5 working days from Wednesday 11-04: 05, 06, 09, 10, 11.
    assert (listing["deadline"], listing["next_report_due"]) == (DEADLINE, "2026-11-11")
    report = the_task(zjtx, listing, "report")
    assert report["department"] == LEAD and report["due_at"] == "2026-11-11T15:59:59+00:00"
    assert report["next_escalation_at"] is not None  # a deadline: the ladder applies to it
    for person in (liaison(LEAD), head(LEAD)):  # the lead unit is told at once, with the item's link
        [(title, body, link)] = [m for m in inbox(zjtx, person) if m[0].startswith("【挂牌督办】")]
        assert title == f"【挂牌督办】黔江专精特新督〔2026〕1号：{item.show()['title']}"
        assert "黄色督办单" in body and "2026年11月20日" in body and "每 5 个工作日" in body
        assert "请区科技局务必于本月20日前协调解决" in body and link.endswith(f"/items/{item.id}")
    assert not any("挂牌督办" in t for t, _, _ in inbox(zjtx, liaison(OTHER)))

    filename, content = zjtx.listings.letter(liaison(LEAD), listing["id"])
    assert filename == "黔江专精特新督〔2026〕1号.docx"
    text = [p.text for p in Document(io.BytesIO(content)).paragraphs]
    assert ISSUER in text and "黔江专精特新督〔2026〕1号" in text
    assert f"关于对{item.show()['title']}事项挂牌督办的函" in text and f"{LEAD}：" in text
    body = "\n".join(text)
    assert "二、领导批示" in body and "领导小组组长批示：请区科技局务必于本月20日前协调解决" in body
    assert "于2026年11月20日前办结" in body and "每 5 个工作日报送一次督办回复" in body
    assert "首次报送时间为2026年11月11日前" in body and "黄色督办单（进度缓慢或质量不高）" in body
    assert "2026年11月4日" in text  # dated the day it was issued
    actions = [h["action"] for h in item.show()["history"]]
    assert "listed" in actions and "listing_letter" in actions  # on the item's own history


def test_reports_escalate_when_missed_and_lifting_with_naming_puts_the_unit_in_the_circular(zjtx, clock):
    item = signed(zjtx)
    zjtx.listings.start("office", item.id, {**LISTING, "slip_colour": "蓝", "report_every_working_days": 3})
    listing = listing_of(zjtx, item)  # no 批示 asked: issued at once
    assert (listing["status"], listing["number"], listing["next_report_due"]) == \
        ("active", "黔江专精特新督〔2026〕1号", "2026-11-09")
    report = the_task(zjtx, listing, "report")
    zjtx.workflows.complete(report["id"], {"report_progress": "按计划推进", "report_text": "已与规划部门会商，正在调规"},
                            liaison(LEAD))
    listing = listing_of(zjtx, item)
    assert listing["next_report_due"] is None and listing["reports"][0]["decision"] == "待审阅"
    review = the_task(zjtx, listing, "review")
    before = counts(zjtx, listing["instance_id"])
    with pytest.raises(ValidationFailed) as caught:  # a slip is raised, never lowered
        zjtx.workflows.complete(review["id"], {"review_decision": "raise", "raise_colour": "蓝"}, "office")
    assert "raise_colour" in caught.value.errors
    assert counts(zjtx, listing["instance_id"]) == before
    with pytest.raises(PermissionDenied):
        zjtx.workflows.complete(review["id"], {"review_decision": "continue"}, "dispatcher")
    zjtx.workflows.complete(review["id"], {"review_decision": "raise", "raise_colour": "黄",
                                           "review_comment": "进度偏慢"}, "office")
    listing = listing_of(zjtx, item)
    # The next report: 3 working days after the last one's due day (11-09): 10, 11, 12.
    assert (listing["colour"], listing["next_report_due"]) == ("黄", "2026-11-12")
    assert listing["reports"][0]["decision"] == "升级督办单颜色" and listing["reports"][0]["colour"] == "黄"
    second = the_task(zjtx, listing, "report")
    assert second["due_at"] == "2026-11-12T15:59:59+00:00"

    clock.move_to(datetime(2026, 11, 13, 10, 0, tzinfo=BJ))  # the report is a day late
    Scheduler(zjtx).run_until_idle()
    with zjtx.db.read() as session:
        levels = set(session.scalars(select(Escalation.level).where(Escalation.task_id == second["id"])))
    assert 2 in levels  # 催办, as for any late task
    assert the_task(zjtx, listing, "report")["escalation_level"] >= 2
    assert any(t.startswith("【催办】") and "督办回复" in t for t, _, _ in inbox(zjtx, liaison(LEAD)))

    zjtx.workflows.complete(second["id"], {"report_progress": "已办结", "report_text": "用地指标已落实"}, liaison(LEAD))
    review = the_task(zjtx, listing_of(zjtx, item), "review")
    with pytest.raises(ValidationFailed) as caught:  # naming needs its reason
        zjtx.workflows.complete(review["id"], {"review_decision": "lift", "name_in_circular": True}, "office")
    assert "review_comment" in caught.value.errors
    zjtx.workflows.complete(review["id"], {"review_decision": "lift", "name_in_circular": True,
                                           "review_comment": "督办回复逾期未报"}, "office")
    listing = listing_of(zjtx, item)
    assert (listing["status"], listing["named_in_circular"], listing["next_report_due"]) == ("lifted", True, None)
    assert open_tasks(zjtx, listing) == [] and zjtx.queries.show(listing["instance_id"])["status"] == "completed"
    assert [r["decision"] for r in listing["reports"]] == ["升级督办单颜色", "解除督办"]

    with zjtx.db.write() as session:
        circular = zjtx.circulars.draft_in(session, date(2026, 11, 1), date(2026, 11, 30))
        figures, text = circular.figures, circular.text
    key, title = item.key, item.show()["title"]
    assert figures["named_by_office"] == [{"department": LEAD, "business_key": key, "matter": title,
                                           "reason": "督办回复逾期未报", "colour": "黄", "source": "挂牌督办",
                                           "day": "2026-11-13"}]
    assert f"1. {LEAD}：{key}「{title}」，督办回复逾期未报（黄色督办单）。" in text
    assert "经领导小组办公室督办，对以下单位予以点名：" in text
    assert criticized(figures) == [LEAD]  # asked to rectify once the circular is published
    with zjtx.db.write() as session:  # October's circular does not carry November's naming
        assert zjtx.circulars.draft_in(session, date(2026, 10, 1), date(2026, 10, 31)).figures["named_by_office"] == []
    assert zjtx.dashboard.current()["named_by_office"][0]["department"] == LEAD


def test_who_may_list_an_item(zjtx, clock):
    item = signed(zjtx)
    with pytest.raises(PermissionDenied):  # the lead unit's own liaison
        zjtx.listings.start(liaison(LEAD), item.id, LISTING)
    with pytest.raises(PermissionDenied):
        zjtx.listings.start("dispatcher", item.id, LISTING)
    with pytest.raises(NotFound):  # a liaison of a unit with no part in it does not even see it
        zjtx.listings.start(liaison(OTHER), item.id, LISTING)
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(ListedSupervision.id))) == 0
    with pytest.raises(ValidationFailed) as caught:  # a Saturday is no working day
        zjtx.listings.start("deputy_leader", item.id, {**LISTING, "new_deadline": "2026-11-21"})
    assert "new_deadline" in caught.value.errors
    started = zjtx.listings.start("deputy_leader", item.key, LISTING)  # a district leader, by the item's key
    assert started["listing"]["number"] == "黔江专精特新督〔2026〕1号"
    with pytest.raises(ValidationFailed) as caught:  # one listing at a time
        zjtx.listings.start("office", item.id, LISTING)
    assert "已在挂牌督办中（黔江专精特新督〔2026〕1号）" in caught.value.errors["item_key"]
    with pytest.raises(NotFound):  # the letter is for those who see the item
        zjtx.listings.letter(liaison(OTHER), started["listing"]["id"])


def test_letters_are_numbered_per_year_and_never_twice(zjtx, clock):
    first, second = signed(zjtx), signed(zjtx)
    numbers = [zjtx.listings.start("office", i.id, LISTING)["listing"]["number"] for i in (first, second)]
    assert numbers == ["黔江专精特新督〔2026〕1号", "黔江专精特新督〔2026〕2号"]
    clock.move_to(datetime(2027, 1, 5, 10, 0, tzinfo=BJ))
    third = signed(zjtx)
    assert zjtx.listings.start("office", third.id, {**LISTING, "new_deadline": "2027-01-20"})["listing"]["number"] \
        == "黔江专精特新督〔2027〕1号"


def test_two_letters_issued_at_once_get_two_numbers(zjtx, clock):
    """Two transactions allocate at the same time: the second waits for the first (PostgreSQL: on the unique
    index; SQLite: for the write lock), then takes the next number."""
    ids = []
    for _ in range(2):
        item = signed(zjtx)
        zjtx.listings.start("office", item.id, {**LISTING, "ask_instruction": True})
        ids.append(listing_of(zjtx, item)["id"])
    second_done: list[str] = []

    def second():
        with zjtx.db.write() as session:
            second_done.append(allocate_number(session, session.get(ListedSupervision, ids[1]), 2026))

    with zjtx.db.write() as session:
        assert allocate_number(session, session.get(ListedSupervision, ids[0]), 2026) == "黔江专精特新督〔2026〕1号"
        worker = threading.Thread(target=second)
        worker.start()
        worker.join(timeout=1.0)  # it cannot finish while the first transaction is open
        assert worker.is_alive() and not second_done
    worker.join(timeout=30)
    assert second_done == ["黔江专精特新督〔2026〕2号"]
    with zjtx.db.read() as session:
        assert sorted(session.scalars(select(ListedSupervision.seq).where(ListedSupervision.year == 2026))) == [1, 2]


def test_the_listing_ends_when_its_item_closes(zjtx, clock):
    item = Item(zjtx)
    item.to_review(LEAD)
    zjtx.listings.start("office", item.id, LISTING)
    listing = listing_of(zjtx, item)
    report = the_task(zjtx, listing, "report")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    item.do("rating", visit("满意", "已解决"), "officer")
    assert item.show()["status"] == "completed"
    listing = listing_of(zjtx, item)
    assert (listing["status"], listing["end_note"]) == ("closed", "事项已办结，挂牌督办随之结束")
    shown = zjtx.queries.show(listing["instance_id"])
    assert shown["status"] == "cancelled" and shown["open_tasks"] == []
    assert zjtx.queries.tasks(instance_id=listing["instance_id"], status="cancelled")[0]["id"] == report["id"]
    assert "listing_closed" in [h["action"] for h in item.show()["history"]]
    clock.shift(timedelta(days=30))  # a cancelled report never escalates
    Scheduler(zjtx).run_until_idle()
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(Escalation.id)).where(Escalation.task_id == report["id"])) == 0
