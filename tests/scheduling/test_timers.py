"""BPMN timers and scheduled process starts, fired by the scheduler from indexed due moments."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from engine.scheduling.scheduler import Scheduler
from engine.scheduling.schedules import ScheduleRuleError
from engine.storage.models import ProcessInstance
from tests.helpers import deploy_timed

BJ = ZoneInfo("Asia/Shanghai")

def next_timer_at(zjtx, instance_id):
    with zjtx.db.read() as session:
        return session.scalar(select(ProcessInstance.next_timer_at).where(ProcessInstance.id == instance_id))


def test_a_boundary_timer_fires_when_due_and_only_then(zjtx):
    deploy_timed(zjtx)
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        started = zjtx.workflows.start("timed", {}, actor="admin")
        idle = zjtx.workflows.start("timed", {}, actor="admin")
        zjtx.workflows.complete(idle["open_tasks"][0]["id"], {}, "admin")  # answered in time: no timer left
        assert next_timer_at(zjtx, started["id"]) == start + timedelta(hours=2)
        assert next_timer_at(zjtx, idle["id"]) is None
        clock.shift(timedelta(hours=1, minutes=59))
        assert zjtx.timers.fire_due() == 0
        clock.shift(timedelta(minutes=2))
        assert Scheduler(zjtx).run_until_idle()["timers"] == 1
    tasks = zjtx.queries.tasks(instance_id=started["id"], status="all")
    assert [(t["task"], t["status"]) for t in tasks] == [("answer", "cancelled"), ("late", "in_progress")]
    assert next_timer_at(zjtx, started["id"]) is None
    assert [h["action"] for h in zjtx.queries.show(started["id"])["history"]].count("timer_fired") == 1


def test_a_scheduled_process_starts_on_the_nth_working_day(zjtx):
    deploy_timed(zjtx)
    with time_machine.travel(datetime(2026, 9, 25, 12, 0, tzinfo=BJ), tick=False) as clock:
        schedule = zjtx.schedules.save("测试月度计划", "timed", "workday:5@09:00")
        # October 2026: 10-01..07 off; working days 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13.
        assert schedule["next_run_at"] == datetime(2026, 10, 13, 1, 0, tzinfo=UTC).isoformat()
        clock.move_to(datetime(2026, 10, 13, 8, 59, tzinfo=BJ))
        assert zjtx.schedules.run_due() == 0
        clock.move_to(datetime(2026, 10, 13, 9, 0, 1, tzinfo=BJ))
        assert Scheduler(zjtx).run_until_idle()["schedules"] == 1
        assert zjtx.schedules.run_due() == 0
        [row] = [s for s in zjtx.schedules.list() if s["name"] == "测试月度计划"]
        assert row["last_instance_id"] is not None
        assert row["next_run_at"] == datetime(2026, 11, 6, 1, 0, tzinfo=UTC).isoformat()
        quarterly = zjtx.schedules.save("季度措施进展", "timed", "workday:5:1,4,7,10@09:00")
        assert quarterly["next_run_at"].startswith("2027-01")  # October's fifth working day has passed


def test_a_bad_schedule_rule_is_refused_in_chinese(zjtx):
    deploy_timed(zjtx)
    with pytest.raises(ScheduleRuleError) as caught:
        zjtx.schedules.save("坏规则", "timed", "workday:40")
    assert "1 到 23" in caught.value.message
    with pytest.raises(ScheduleRuleError):
        zjtx.schedules.save("坏规则", "timed", "cron:61 * * * *")
