"""Merged duplicates follow their master (issue 17, point 7): the triage's 合并为重复问题 names an open master,
the merged item waits (已合并，随主件办理) in the diagram, and when the master's process ends the engine delivers
the master's outcome to each merged item, which closes with it (已随主件办结), audited, its enterprise's service
officer and contact told. The figures count a merged item nowhere, as they did when it ended at once (已合并):
it has no department step, and its status is never the master's."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.identity import authz
from engine.identity.org import get_user
from engine.policy.dispatch.figures import compute
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import AuditRecord, InboxMessage, Incident, InstanceMessage, ItemLink, OutboxMessage, ProcessInstance
from tests.helpers import REGISTRATION, Browser, Item, counts, deploy_timed, visit

BJ = ZoneInfo("Asia/Shanghai")
LEAD = "区科技局"
WAITING, FOLLOWED = "已合并，随主件办理", "已随主件办结"
CONTACT = "李经理 13900000000，li.manager@example.com"


def merge(item: Item, master_key: str):
    return item.do("triage", {"triage_decision": "merge", "duplicate_of": master_key}, "dispatcher")


def closed(master: Item) -> None:
    """The master walked to 已办结: handled, reviewed, the enterprise satisfied."""
    master.to_review(LEAD)
    master.do("review", {"review_decision": "accept"}, "dispatcher")
    master.do("rating", visit("满意", "已解决"), "officer")


def audits(zjtx, item: Item) -> list[tuple[str, dict | None]]:
    with zjtx.db.read() as session:
        return [(a.action, a.data) for a in session.scalars(
            select(AuditRecord).where(AuditRecord.instance_id == item.id).order_by(AuditRecord.id))]


def inbox(zjtx, username: str) -> list[tuple[str, str]]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.execute(select(InboxMessage.title, InboxMessage.body)
                                    .where(InboxMessage.user_id == user.id).order_by(InboxMessage.id)).all())


def links(zjtx, item: Item) -> dict:
    with zjtx.db.read() as session:
        return zjtx.intake.links(authz.actor_for(session, "dispatcher"), item.id)


def test_merged_items_wait_for_the_master_and_close_with_its_outcome(mailing_zjtx, clock):
    zjtx = mailing_zjtx
    master = Item(zjtx)
    first, second = Item(zjtx, {**REGISTRATION, "contact": CONTACT}), Item(zjtx)
    merge(first, master.key)
    merge(second, master.key)
    for item in (first, second):  # open, waiting in the diagram, nothing for anyone to do
        shown = item.show()
        assert (shown["status"], shown["item_status"]) == ("running", WAITING)
        assert item.open_tasks() == [] and shown["data"]["merged_master"]["business_key"] == master.key
        assert links(zjtx, item)["master"]["business_key"] == master.key
    assert [m["business_key"] for m in links(zjtx, master)["merged"]] == [first.key, second.key]
    with zjtx.db.read() as session:  # the link is the indexed column the master's end reads
        assert sorted(session.scalars(select(ItemLink.instance_id).where(ItemLink.master_instance_id == master.id))) \
            == [first.id, second.id]

    closed(master)
    answer = master.data()["item_answer"]
    assert master.show()["item_status"] == "已办结" and answer == f"{LEAD}已办理完毕"
    for item in (first, second):
        shown = item.show()
        assert (shown["status"], shown["item_status"]) == ("completed", FOLLOWED)
        data = shown["data"]
        assert (data["item_answer"], data["lead_department"], data["master_status"], data["closed_on"]) == \
            (answer, LEAD, "已办结", "2026-11-04")
        actions = dict(audits(zjtx, item))
        assert actions["merged_into"]["master"] == master.key
        assert actions["message_delivered"]["message"] == "master_closed"
        assert actions["merged_closed"]["master"] == master.key and actions["merged_closed"]["officers"] == ["officer"]
    assert dict(audits(zjtx, master))["merged_items_closing"]["items"] == [first.key, second.key]
    with zjtx.db.read() as session:
        assert all(m.delivered_at is not None for m in session.scalars(select(InstanceMessage)))

    told = [(t, b) for t, b in inbox(zjtx, "officer") if t.startswith("【合并件已随主件办结】")]
    assert len(told) == 2 and all(master.key in b and answer in b and LEAD in b for _, b in told)
    with zjtx.db.read() as session:  # the contact with an address is told through the outbox; the other has none
        mails = list(session.scalars(select(OutboxMessage).where(OutboxMessage.key.like("merged_closed:%"))))
    to_contact = [m for m in mails if m.user_id is None]
    assert [(m.channel, m.address) for m in to_contact] == [("email", "li.manager@example.com")]
    assert to_contact[0].subject.startswith("【办理结果】") and answer in to_contact[0].body
    assert dict(audits(zjtx, first))["merged_closed"]["contact"] == ["li.manager@example.com"]
    assert dict(audits(zjtx, second))["merged_closed"]["contact"] == []




def test_a_contact_with_only_a_mobile_is_sent_a_text_message(database_url, make_engine, sms_gateway, clock):
    url, received = sms_gateway
    zjtx = make_engine(database_url, sms_gateway_url=url)
    try:
        master, merged = Item(zjtx), Item(zjtx, {**REGISTRATION, "contact": "王经理 电话13800001111"})
        merge(merged, master.key)
        closed(master)
        with zjtx.db.read() as session:
            rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")))
        assert [(r.address, r.user_id) for r in rows] == [("13800001111", None)]  # no staff member by SMS
        assert dict(audits(zjtx, merged))["merged_closed"]["contact"] == ["13800001111"]
        assert zjtx.deliverer.deliver_due() == 1
        assert [b["mobile"] for _, b in received] == ["13800001111"] and received[0][0] == rows[0].key
        assert received[0][1]["content"].startswith("【办理结果】") and f"{LEAD}已办理完毕" in received[0][1]["content"]
    finally:
        zjtx.close()


def test_the_figures_count_the_master_once(zjtx, clock):
    master = Item(zjtx)
    merged = [Item(zjtx) for _ in range(2)]
    for item in merged:
        merge(item, master.key)
    closed(master)
    assert all(item.show()["item_status"] == FOLLOWED for item in merged)
    with zjtx.db.read() as session:
        table = compute(session, date(2026, 11, 1), date(2026, 11, 30), BJ)["table"]
    assert [r["department"] for r in table] == [LEAD]  # the merged items gave no unit anything to count
    row = table[0]
    assert (row["received"], row["due"], row["closed"], row["closed_on_time"]) == (1, 1, 1, 1)
    assert (row["satisfaction_rate"], row["solved_rate"], row["first_time_rate"], row["not_visited"]) == \
        (100.0, 100.0, 100.0, 0)


def test_a_master_closed_unvisited_is_counted_once_and_its_merged_items_follow(zjtx, clock):
    master = Item(zjtx)
    merged = [Item(zjtx) for _ in range(2)]
    for item in merged:
        merge(item, master.key)
    master.to_review(LEAD)
    master.do("review", {"review_decision": "accept"}, "dispatcher")
    clock.shift(timedelta(days=8))  # the 回访 window is over: 已办结（未回访）
    Scheduler(zjtx).run_until_idle()
    assert master.show()["item_status"] == "已办结（未回访）"
    for item in merged:
        shown = item.show()
        assert (shown["status"], shown["item_status"], shown["data"]["master_status"]) == \
            ("completed", FOLLOWED, "已办结（未回访）")
    with zjtx.db.read() as session:
        row = {r["department"]: r for r in compute(session, date(2026, 11, 1), date(2026, 11, 30), BJ)["table"]}[LEAD]
    assert row["not_visited"] == 1  # the master's, not three


@pytest.mark.parametrize("case", ["self", "unknown", "merged", "closed", "other process"])
def test_a_bad_master_is_refused_naming_the_field_and_nothing_changes(zjtx, case):
    item = Item(zjtx)
    if case == "self":
        key, expected = item.key, "是本事项自身"
    elif case == "unknown":
        key, expected = "ZJTX-1999-99999", "不存在"
    elif case == "merged":
        master, merged = Item(zjtx), Item(zjtx)
        merge(merged, master.key)
        key, expected = merged.key, f"本身已合并到其他事项，请合并到其主件 {master.key}"
    elif case == "closed":
        rejected = Item(zjtx)
        rejected.do("triage", {"triage_decision": "reject", "triage_reason": "属于企业自身经营事项"}, "dispatcher")
        key, expected = rejected.key, "已办结（不予受理）"
    else:
        deploy_timed(zjtx)
        key, expected = zjtx.workflows.start("timed", {}, actor="admin")["business_key"], "不是企业问题交办事项"
    before = counts(zjtx, item.id)
    with pytest.raises(ValidationFailed) as caught:
        merge(item, key)
    message = caught.value.errors["duplicate_of"]
    assert message.startswith("「重复的问题编号」") and key in message and expected in message
    assert counts(zjtx, item.id) == before  # the triage is still open, nothing written
    assert item.task("triage") and item.show()["item_status"] == "待研判"
    with zjtx.db.read() as session:
        link = session.get(ItemLink, item.id)
        assert link is None or link.master_instance_id is None


def test_a_master_that_is_merged_later_carries_its_own_merged_items_along(zjtx, clock):
    final, middle, first = Item(zjtx), Item(zjtx), Item(zjtx)
    merge(first, middle.key)  # the middle item is still at its triage: open, not merged
    merge(middle, final.key)
    closed(final)
    for item in (middle, first):
        shown = item.show()
        assert (shown["status"], shown["item_status"]) == ("completed", FOLLOWED)
        assert shown["data"]["item_answer"] == f"{LEAD}已办理完毕"
    assert first.show()["data"]["closed_on"] == "2026-11-04"


def test_a_crash_after_the_master_closes_loses_nothing(zjtx, make_engine, database_url, clock, monkeypatch):
    master, merged = Item(zjtx), Item(zjtx)
    merge(merged, master.key)
    # The server dies right after the master's completing transaction commits, before going on with the merged item.
    monkeypatch.setattr(zjtx.workflows, "deliver_sent", lambda instance_ids: None)
    closed(master)
    assert merged.show()["item_status"] == WAITING
    with zjtx.db.read() as session:
        message = session.scalar(select(InstanceMessage).where(InstanceMessage.instance_id == merged.id))
        due = session.get(ProcessInstance, merged.id).next_timer_at
    assert message.delivered_at is None and message.payload["master_key"] == master.key and due is not None
    zjtx.close()
    restarted = make_engine(database_url)
    try:
        Scheduler(restarted).run_until_idle()  # the scheduler finds the merged item due
        shown = restarted.queries.show(merged.id)
        assert (shown["status"], shown["item_status"]) == ("completed", FOLLOWED)
        with restarted.db.read() as session:
            assert session.get(InstanceMessage, message.id).delivered_at is not None
    finally:
        restarted.close()


@pytest.mark.sqlite_only
def test_the_item_pages_link_master_and_merged_items_and_the_triage_offers_open_items(zjtx):
    from web import create_app

    master, other = Item(zjtx), Item(zjtx, {**REGISTRATION, "enterprise_name": "重庆黔江另一家有限公司"})
    merged = Item(zjtx)
    app = create_app(services=zjtx, config={"TESTING": True})
    browser = Browser(app)
    assert browser.login("dispatcher").status_code == 302
    triage = browser.get(f"/tasks/{merged.task('triage')['id']}").get_data(as_text=True)
    assert f'<option value="{master.key}"' in triage and other.key not in triage  # the same enterprise's open items
    merge(merged, master.key)
    page = browser.get(f"/items/{master.id}").get_data(as_text=True)
    assert f'href="/items/{merged.id}"' in page and merged.key in page and "合并件" in page
    page = browser.get(f"/items/{merged.id}").get_data(as_text=True)
    assert f'href="/items/{master.id}"' in page and master.key in page and WAITING in page


def test_a_master_given_up_by_an_administrator_sends_its_merged_items_back_to_triage(zjtx, clock):
    """A master that failed and was cancelled on the incident page resolved nothing: its merged items are
    unlinked and go back to 研判 (not closed with an empty answer), and its 挂牌督办, had it one, would end."""
    master, merged = Item(zjtx), Item(zjtx)
    merge(merged, master.key)
    master.accept()
    master.dispatch(LEAD)
    with zjtx.db.write() as session:  # the runtime's call when the master keeps failing
        row = session.get(ProcessInstance, master.id)
        assert zjtx.incidents.instance_failed(session, row, "step", "步骤出错", "ScriptError", "详情", max_attempts=1)
    with zjtx.db.read() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.instance_id == master.id))
    zjtx.incidents.cancel(incident_id, "admin")
    assert master.show()["status"] == "cancelled"
    Scheduler(zjtx).run_until_idle()  # the message to the merged item is delivered by the scheduler
    shown = merged.show()
    assert (shown["status"], shown["item_status"]) == ("running", "待研判")
    assert [t["task"] for t in merged.open_tasks()] == ["triage"]
    assert shown["data"]["merge_released"]["master"] == master.key
    assert links(zjtx, merged)["master"] is None and links(zjtx, master)["merged"] == []
    assert dict(audits(zjtx, master))["merged_items_released"]["items"] == [merged.key]
    assert "merge_released" in dict(audits(zjtx, merged))
    merged.accept()  # triaged again, on its own now
    assert merged.show()["item_status"] == "待交办"
