"""Deadlines and the escalation ladder under a controlled clock, with mail to a real SMTP server."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from engine.scheduling.scheduler import Scheduler
from engine.storage.models import Escalation, HumanTask, InboxMessage, OutboxMessage
from tests.helpers import Item, head, liaison

BJ = ZoneInfo("Asia/Shanghai")
LEAD = "区科技局"


def at(text: str) -> datetime:
    """A Beijing wall-clock moment, e.g. at("2026-10-08 09:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def email_of(user: str) -> str:
    return f"{user}@zjtx.qianjiang.example"


def escalations(zjtx, task_id=None) -> list[tuple[int, str]]:
    with zjtx.db.read() as session:
        query = select(Escalation).order_by(Escalation.id)
        if task_id is not None:
            query = query.where(Escalation.task_id == task_id)
        return [(e.level, e.fired_at.astimezone(BJ).strftime("%m-%d %H:%M")) for e in session.scalars(query)]


def inbox_titles(zjtx, username: str) -> list[str]:
    from engine.identity.org import get_user

    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)
                                    .order_by(InboxMessage.id)))


def dispatched_before_national_day(zjtx) -> tuple[Item, dict]:
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=3)
    item.sign(LEAD)
    return item, item.task("handle", LEAD)


def test_a_three_day_task_before_national_day_is_warned_urged_and_supervised_on_time(mailing_zjtx, smtp):
    zjtx = mailing_zjtx
    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        item, handle = dispatched_before_national_day(zjtx)
        # 3 working days from 09-29, counted from the next day: 09-30, (holiday 10-01..10-07), 10-08, 10-09.
        assert handle["due_at"] == at("2026-10-09 23:59:59").astimezone(ZoneInfo("UTC")).isoformat()
        scheduler.run_until_idle()
        assert escalations(zjtx) == []

        clock.move_to(at("2026-10-08 08:59"))
        scheduler.run_until_idle()
        assert escalations(zjtx) == []
        clock.move_to(at("2026-10-08 09:00:01"))
        scheduler.run_until_idle()
        assert escalations(zjtx) == [(1, "10-08 09:00")]
        listed = item.task("handle", LEAD)
        assert listed["escalation_level"] == 1 and listed["next_escalation_at"] == listed["due_at"]
        assert smtp.subjects_to(email_of(liaison(LEAD)))[1:] == [  # after the notice of the new task (签收)
            f"【预警】{handle['title']}：「办理答复」将于 2026年10月09日 到期"]
        assert smtp.subjects_to(email_of(head(LEAD))) == []  # the warning goes to the handler only

        clock.move_to(at("2026-10-09 23:59:58"))
        scheduler.run_until_idle()
        assert len(escalations(zjtx)) == 1
        clock.move_to(at("2026-10-10 00:00:00"))  # the make-up Saturday after the deadline
        scheduler.run_until_idle()
        assert escalations(zjtx)[1] == (2, "10-10 00:00")
        assert smtp.subjects_to(email_of(head(LEAD)))[0].startswith("【催办】")  # copied to the head
        assert smtp.subjects_to(email_of(liaison(LEAD)))[2].startswith("【催办】")

        # Supervision after 3 more working days: 10-10 (make-up Saturday), 10-12, 10-13.
        clock.move_to(at("2026-10-13 23:59:00"))
        scheduler.run_until_idle()
        assert len(escalations(zjtx)) == 2
        clock.move_to(at("2026-10-14 00:00:01"))
        for _ in range(3):
            scheduler.run_until_idle()
        assert escalations(zjtx) == [(1, "10-08 09:00"), (2, "10-10 00:00"), (3, "10-14 00:00")]
        assert smtp.subjects_to(email_of("office"))[0].startswith("【督办】")
        assert inbox_titles(zjtx, "office")[0].startswith("【督办】")
        [supervision] = [t for t in zjtx.queries.tasks(actor="office") if t["stage"] == "supervise"]
        assert supervision["department"] == "区经济信息委" and LEAD in supervision["name"]
        # Every message went out exactly once.
        keys = [m["X-ZJTX-Key"] for _, m in smtp.messages if m["X-ZJTX-Key"].startswith("esc:")]
        assert len(keys) == len(set(keys)) == 1 + 2 + 3
        history = [h["action"] for h in item.show()["history"]]
        assert history.count("escalation_1") == history.count("escalation_2") == history.count("escalation_3") == 1


def test_the_office_closes_a_supervision_item_with_its_decision(zjtx):
    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        dispatched_before_national_day(zjtx)
        clock.move_to(at("2026-10-20 10:00"))
        scheduler.run_until_idle()
        [item] = [t for t in zjtx.queries.tasks(actor="office") if t["stage"] == "supervise"]
        assert zjtx.queries.tasks(actor=liaison(LEAD), status="all")[-1]["stage"] == "handle"  # not theirs
        done = zjtx.workflows.complete(item["id"], {"supervision_result": "已约谈分管负责人，限期三日办结"}, "office")
        assert done["task"]["status"] == "completed"
    # Catching up after downtime: the warning is dropped once the deadline itself has passed.
    assert [level for level, _ in escalations(zjtx)] == [2, 3]


def test_an_approved_extension_resets_the_ladder_and_a_refused_one_does_not(zjtx):
    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        item, handle = dispatched_before_national_day(zjtx)
        clock.move_to(at("2026-10-08 10:00"))
        scheduler.run_until_idle()
        assert escalations(zjtx) == [(1, "10-08 10:00")]
        request = {"handle_action": "request_extension", "extension_reason": "需市级部门批复",
                   "extension_due_date": "2026-10-15"}
        item.do("handle", request, liaison(LEAD), LEAD)
        item.do("decide_extension", {"extension_approved": False, "extension_comment": "不予延期"}, "dispatcher")
        same = item.task("handle", LEAD)
        assert same["due_at"] == handle["due_at"]
        scheduler.run_until_idle()
        assert len(escalations(zjtx)) == 1  # the refused request does not warn again for the same deadline
        item.do("handle", request, liaison(LEAD), LEAD)
        item.do("decide_extension", {"extension_approved": True}, "dispatcher")
        moved = item.task("handle", LEAD)
        assert moved["due_at"] == at("2026-10-15 23:59:59").astimezone(ZoneInfo("UTC")).isoformat()
        clock.move_to(at("2026-10-10 12:00"))  # past the old deadline: nothing is urged any more
        scheduler.run_until_idle()
        assert len(escalations(zjtx)) == 1
        clock.move_to(at("2026-10-15 09:00:01"))  # one working day before the new deadline
        scheduler.run_until_idle()
        assert escalations(zjtx, moved["id"]) == [(1, "10-15 09:00")]


def test_the_urging_at_the_deadline_offers_only_what_the_handling_step_allows(zjtx):
    """The 催办 goes out once the deadline has passed, when the handling step refuses an extension
    request: the message must not offer one, and must say what the unit can still do."""
    from engine.errors import ValidationFailed

    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        item, _ = dispatched_before_national_day(zjtx)
        clock.move_to(at("2026-10-10 00:00:00"))  # the moment of the 催办, just after the deadline
        scheduler.run_until_idle()
        assert [level for level, _ in escalations(zjtx)] == [2]
        with zjtx.db.read() as session:
            [body] = session.scalars(select(InboxMessage.body).where(InboxMessage.title.startswith("【催办】"))
                                     .limit(1))
        assert "提出延期申请" not in body and "确需延期" not in body
        assert "不能再申请延期" in body and "说明逾期原因" in body and "与交办单位（区经济信息委）联系" in body

        with pytest.raises(ValidationFailed) as caught:  # what the message says, the step does
            item.do("handle", {"handle_action": "request_extension", "extension_reason": "来不及",
                               "extension_due_date": "2026-10-30"}, liaison(LEAD), LEAD)
        assert "已超过办理期限" in caught.value.errors["handle_action"]
        assert "不能再申请延期" in caught.value.errors["handle_action"]
        item.task("handle", LEAD)  # the refused request left the step open
        item.answer(LEAD, "已办理，因需市级部门批复逾期两日")  # answering at once still works
        item.task("review")


def test_each_level_fires_once_across_many_ticks(zjtx):
    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        dispatched_before_national_day(zjtx)
        for moment in ("2026-10-08 09:30", "2026-10-08 09:31", "2026-10-10 01:00", "2026-10-10 02:00",
                       "2026-10-14 01:00", "2026-10-15 01:00", "2026-11-01 01:00"):
            clock.move_to(at(moment))
            for _ in range(3):
                scheduler.tick()
    assert [level for level, _ in escalations(zjtx)] == [1, 2, 3]
    with zjtx.db.read() as session:
        handle = session.scalar(select(HumanTask).where(HumanTask.bpmn_id == "handle", HumanTask.kind == "bpmn"))
        assert (handle.escalation_level, handle.next_escalation_at) == (3, None)
        assert session.scalar(select(func.count(InboxMessage.id))) > 0
        assert session.scalar(select(func.count(OutboxMessage.id))) == 0  # no SMTP configured, no webhooks


def test_a_task_list_shows_due_dates_and_unconfirmed_years(zjtx, year_without_notice):
    with time_machine.travel(at("2026-12-28 10:00"), tick=False):
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD, days=10)
        with zjtx.db.read() as session:
            sign = session.get(HumanTask, item.task("sign")["id"])
            assert sign.deadline_confirmed is True  # 12-29 is in 2026
        item.sign(LEAD)
        with zjtx.db.read() as session:
            handle = session.get(HumanTask, item.task("handle")["id"])
            assert handle.deadline_confirmed is False  # runs into 2027, whose notice is not imported
