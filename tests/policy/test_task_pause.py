"""A department pauses its clock while it waits for the enterprise (挂起, issue 17 point 6): with a reason, at
most a set number of times, the ladder stopped while paused, the deadline moved later by the working days
paused when it resumes (in the workflow data, so the step created again keeps it), a pause past its limit
flagged and the clock running again, a paused task not completed before it resumes, the dispatcher and the
enterprise's service officer told, the circular's figures counting it. Through the service layer, every
step reading the database afresh, on both databases; the clock fixture starts on Wednesday 2026-11-04."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from engine.errors import Conflict, PermissionDenied, TaskNotFound, ValidationFailed
from engine.identity.authz import actor_for
from engine.identity.org import get_user
from engine.policy.dispatch.figures import compute
from engine.queries.tasks import InboxFilter
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import AuditRecord, Escalation, HumanTask, InboxMessage, TaskPause
from tests.helpers import BJ, Item, at, counts, head, liaison, signed

LEAD, OTHER = "区科技局", "区财政局"
DUE = "2026-11-11"  # dispatched on Wednesday 11-04 for 5 working days
REASON = "等待企业补充提供项目用地红线图和规划设计方案"



def handle(item: Item) -> dict:
    return item.task("handle", LEAD)


def pause(zjtx, item: Item, reason: str = REASON, expected=None, actor: str | None = None) -> dict:
    return zjtx.pauses.pause(handle(item)["id"], actor or liaison(LEAD), reason, expected)


def resume(zjtx, item: Item, note: str | None = "企业已补充红线图", actor: str | None = None) -> dict:
    return zjtx.pauses.resume(handle(item)["id"], actor or liaison(LEAD), note)


def row(zjtx, task_id: int) -> HumanTask:
    with zjtx.db.read() as session:
        return session.get(HumanTask, task_id)


def fired(zjtx, task_id: int) -> list[int]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(Escalation.level).where(Escalation.task_id == task_id)
                                    .order_by(Escalation.id)))


def titles(zjtx, username: str) -> list[str]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)
                                    .order_by(InboxMessage.id)))


def actions(zjtx, item: Item) -> list[str]:
    with zjtx.db.read() as session:
        return list(session.scalars(select(AuditRecord.action).where(AuditRecord.instance_id == item.id)
                                    .order_by(AuditRecord.id)))


def actor(zjtx, username: str):
    with zjtx.db.read() as session:
        return actor_for(session, username)


def due_day(task: dict) -> str:
    return datetime.fromisoformat(task["due_at"]).astimezone(BJ).date().isoformat()


def test_a_paused_task_is_not_escalated_and_resuming_moves_its_deadline_by_the_working_days_paused(zjtx, clock):
    scheduler = Scheduler(zjtx)
    item = signed(zjtx)
    task_id = handle(item)["id"]
    assert due_day(handle(item)) == DUE and row(zjtx, task_id).next_escalation_at is not None
    paused = pause(zjtx, item, expected="2026-11-12")
    assert paused["paused"] and paused["reason"] == REASON
    assert row(zjtx, task_id).next_escalation_at is None  # the ladder is stopped
    view = zjtx.pause_views.task_view(actor(zjtx, liaison(LEAD)), task_id)
    assert view["active"]["reason"] == REASON and view["active"]["expected_resume_on"] == "2026-11-12"
    assert view["can_resume"] and not view["can_pause"]
    # Past the original deadline (11-11 23:59:59), still paused: no 预警, no 催办, no 督办.
    clock.move_to(at("2026-11-12 10:00"))
    scheduler.run_until_idle()
    assert fired(zjtx, task_id) == []
    assert not [t for t in titles(zjtx, liaison(LEAD)) if "预警" in t or "催办" in t]
    # Nor is it overdue anywhere: the inbox's tabs, the console's list of overdue steps.
    mine = actor(zjtx, liaison(LEAD))
    inbox = zjtx.queries.inbox(mine, InboxFilter(tab="all"))
    assert inbox["counts"]["overdue"] == 0 and inbox["counts"]["due_soon"] == 0
    shown = next(i for i in inbox["items"] if i["id"] == task_id)
    assert shown["paused"] and not shown["overdue"] and shown["days_left_label"] == "已挂起，暂停计时"
    assert task_id not in [t["id"] for t in zjtx.queries.overdue(actor(zjtx, "dispatcher"))]
    # Resumed on Thursday 11-12: the working days 11-05, 06, 09, 10, 11, 12 were paused (6).
    resumed = resume(zjtx, item)
    assert (resumed["working_days"], resumed["credited_days"]) == (6, 6)
    moved = "2026-11-19"  # 11-11 and 6 working days: 12, 13, 16, 17, 18, 19
    assert item.data()["assignment"]["due_date"] == moved and due_day(handle(item)) == moved
    assert "pause" in actions(zjtx, item) and actions(zjtx, item)[-1] == "resume"
    # The 预警 goes out at the new moment: 09:00 one working day before the moved deadline.
    clock.move_to(at("2026-11-18 08:59"))
    scheduler.run_until_idle()
    assert fired(zjtx, task_id) == []
    clock.move_to(at("2026-11-18 09:00"))
    scheduler.run_until_idle()
    assert fired(zjtx, task_id) == [1]
    # The dispatcher and the enterprise's service officer heard of both.
    for user in ("dispatcher", "officer"):
        heard = titles(zjtx, user)
        assert any(t.startswith("【已挂起】") for t in heard), (user, heard)
        assert any(t.startswith("【恢复办理】") for t in heard), (user, heard)


def test_the_moved_deadline_is_in_the_workflow_data_so_the_step_created_again_keeps_it(zjtx, clock):
    item = signed(zjtx)
    pause(zjtx, item)
    clock.move_to(at("2026-11-06 15:00"))  # Friday: 11-05 and 11-06 paused
    resume(zjtx, item)
    assert due_day(handle(item)) == "2026-11-13"
    # An extension asked and refused creates the handling step again, from the workflow's data.
    item.do("handle", {"handle_action": "request_extension", "extension_reason": "仍需市级部门审批",
                       "extension_due_date": "2026-11-17"}, liaison(LEAD), LEAD)
    decision = [t["task"] for t in item.open_tasks()]
    assert decision == ["decide_extension"]
    extension = item.data()["extension_working_days"]
    assert extension == 2  # counted from the moved deadline (11-16, 11-17)
    item.do("decide_extension", {"extension_approved": False, "extension_comment": "请按期办理"}, "dispatcher")
    again = handle(item)
    assert due_day(again) == "2026-11-13"


def test_another_department_cannot_pause_and_the_dispatcher_may_not_either(zjtx, clock):
    item = signed(zjtx)
    before = counts(zjtx, item.id)
    with pytest.raises(TaskNotFound):
        pause(zjtx, item, actor=liaison(OTHER))
    with pytest.raises(PermissionDenied):
        pause(zjtx, item, actor="dispatcher")
    assert counts(zjtx, item.id) == before
    pause(zjtx, item, actor=head(LEAD))  # the department's head may, as its liaison may
    with pytest.raises(TaskNotFound):
        resume(zjtx, item, actor=liaison(OTHER))


def test_the_dispatcher_ends_a_units_pause_saying_why_and_the_unit_is_told(zjtx, clock):
    item = signed(zjtx)
    pause(zjtx, item)
    clock.move_to(at("2026-11-06 10:00"))  # two working days later the papers came, the unit did not resume
    view = zjtx.pause_views.task_view(actor(zjtx, "dispatcher"), handle(item)["id"])
    assert view["can_resume"] and view["resume_for_department"] and not view["can_pause"]
    before = counts(zjtx, item.id)
    with pytest.raises(ValidationFailed) as caught:
        resume(zjtx, item, note=" ", actor="dispatcher")
    assert "结束挂起" in caught.value.errors["note"] and counts(zjtx, item.id) == before  # nothing written
    with pytest.raises(TaskNotFound):  # another unit's liaison still may not
        resume(zjtx, item, actor=liaison(OTHER))
    resume(zjtx, item, note="企业已于11月5日补齐红线图", actor="dispatcher")
    assert due_day(handle(item)) == "2026-11-13"  # moved by the two working days paused
    with zjtx.db.read() as session:
        record = session.scalars(select(AuditRecord).where(AuditRecord.instance_id == item.id,
                                                           AuditRecord.action == "resume")).one()
    assert (record.actor, record.data["ended_for_department"]) == ("dispatcher", True)
    with zjtx.db.read() as session:  # the unit's liaison who paused hears of it, and who ended its pause
        user = get_user(session, liaison(LEAD))
        [body] = session.scalars(select(InboxMessage.body).where(InboxMessage.user_id == user.id,
                                                                 InboxMessage.body.like("%结束挂起%"))).all()
    assert f"代{LEAD}结束挂起" in body and "企业已于11月5日补齐红线图" in body


def test_a_pause_needs_its_reason_and_an_expected_date_within_the_limit(zjtx, clock):
    item = signed(zjtx)
    before = counts(zjtx, item.id)
    with pytest.raises(ValidationFailed) as caught:
        pause(zjtx, item, reason="  ")
    assert "挂起原因" in caught.value.errors["reason"]
    with pytest.raises(ValidationFailed) as caught:
        pause(zjtx, item, expected="2026-11-19")  # 11 working days away: past the 10 a pause may last
    assert "预计恢复日期不能晚于 2026-11-18" in caught.value.errors["expected_resume_on"]
    with pytest.raises(ValidationFailed) as caught:
        pause(zjtx, item, expected="2026-11-03")
    assert "预计恢复日期" in caught.value.errors["expected_resume_on"]
    assert counts(zjtx, item.id) == before


def test_a_task_is_paused_at_most_twice(zjtx, clock):
    item = signed(zjtx)
    for day in ("2026-11-05 10:00", "2026-11-06 10:00"):
        pause(zjtx, item)
        clock.move_to(at(day))
        resume(zjtx, item)
    before = counts(zjtx, item.id)
    with pytest.raises(Conflict) as caught:
        pause(zjtx, item)
    assert "至多挂起 2 次" in caught.value.message
    assert counts(zjtx, item.id) == before
    assert due_day(handle(item)) == "2026-11-13"  # moved by 1 and 1


def test_a_paused_task_cannot_be_completed_until_it_is_resumed(zjtx, clock):
    item = signed(zjtx)
    pause(zjtx, item)
    with pytest.raises(Conflict):
        pause(zjtx, item)  # already paused
    before = counts(zjtx, item.id)
    with pytest.raises(Conflict) as caught:
        item.answer(LEAD, "已办理完毕")
    assert "请先恢复办理" in caught.value.message
    assert counts(zjtx, item.id) == before
    resume(zjtx, item)
    item.answer(LEAD, "已办理完毕")
    assert [t["task"] for t in item.open_tasks()] != ["handle"]


def test_only_an_open_pausable_step_before_its_deadline_is_paused(zjtx, clock):
    item = Item(zjtx)
    with pytest.raises(Conflict) as caught:  # 研判 does not allow it
        zjtx.pauses.pause(item.task("triage")["id"], "dispatcher", REASON)
    assert "pausable" in caught.value.message
    item.accept()
    item.dispatch(LEAD, days=5)
    with pytest.raises(Conflict) as caught:  # not signed for yet
        zjtx.pauses.pause(item.task("sign", LEAD)["id"], liaison(LEAD), REASON)
    assert "签收" in caught.value.message
    item.sign(LEAD)
    clock.move_to(at("2026-11-12 09:00"))  # past the deadline: answer, do not pause
    with pytest.raises(Conflict) as caught:
        pause(zjtx, item)
    assert "已超过办理期限" in caught.value.message


def test_a_pause_past_its_limit_is_flagged_and_the_clock_runs_again(zjtx, clock):
    scheduler = Scheduler(zjtx)
    item = signed(zjtx)
    task_id = handle(item)["id"]
    pause(zjtx, item)
    clock.move_to(at("2026-11-18 23:00"))  # the 10th working day paused: still within the limit
    scheduler.run_until_idle()
    assert "pause_over_limit" not in actions(zjtx, item) and fired(zjtx, task_id) == []
    clock.move_to(at("2026-11-19 00:30"))
    scheduler.run_until_idle()
    assert actions(zjtx, item)[-1] == "pause_over_limit"
    limit = "2026-11-25"  # 11-11 and the 10 working days a pause may move it
    assert due_day(handle(item)) == limit and item.data()["assignment"]["due_date"] == limit
    assert row(zjtx, task_id).next_escalation_at is not None  # the ladder runs again
    heard = titles(zjtx, liaison(LEAD))
    assert any(t.startswith("【挂起超期】") for t in heard) and any(t.startswith("【挂起超期】")
                                                                  for t in titles(zjtx, "dispatcher"))
    clock.move_to(at("2026-11-24 09:00"))  # the 预警 of the moved deadline, while still marked paused
    scheduler.run_until_idle()
    assert fired(zjtx, task_id) == [1]
    resumed = resume(zjtx, item)
    assert (resumed["working_days"], resumed["credited_days"]) == (14, 10)  # 11-05 … 11-24, capped at 10
    assert due_day(handle(item)) == limit  # nothing more


def test_the_figures_count_pauses_and_judge_on_time_against_the_moved_deadline(zjtx, clock):
    item = signed(zjtx)
    pause(zjtx, item)
    clock.move_to(at("2026-11-12 10:00"))
    resume(zjtx, item)
    clock.move_to(at("2026-11-17 10:00"))  # after the original deadline, before the moved one
    item.answer(LEAD, "已协调解决用地指标")
    with zjtx.db.read() as session:
        table = {r["department"]: r for r in compute(session, date(2026, 11, 1), date(2026, 11, 30), BJ)["table"]}
    lead = table[LEAD]
    assert (lead["pauses"], lead["paused_days"], lead["pauses_over_limit"]) == (1, 6, 0)
    assert (lead["closed"], lead["closed_on_time"], lead["on_time_rate"]) == (1, 1, 100.0)
    with zjtx.db.read() as session:
        october = {r["department"]: r for r in compute(session, date(2026, 10, 1), date(2026, 10, 31), BJ)["table"]}
        pauses = list(session.scalars(select(TaskPause)))
    assert LEAD not in october and len(pauses) == 1 and pauses[0].working_days == 6
