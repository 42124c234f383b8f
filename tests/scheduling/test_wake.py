"""The scheduler wakes when work falls due, not at its next tick (issue 21's P4): after each tick it plans a wake
for the earliest due moment it saw (the first entry of each kind's due-moment index) when that comes before the
next tick. Here the ticks are 30 s apart, so only the planned wakes can urge two tasks falling due 2 and 4 s on."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.scheduling.scheduler import Scheduler
from engine.storage.models import Escalation, HumanTask
from tests.helpers import Item, wait_for


def test_work_due_between_ticks_is_done_when_it_falls_due(database_url, make_engine):
    zjtx = make_engine(database_url, tick_seconds=30)
    scheduler = Scheduler(zjtx)
    try:
        tasks = []
        for _ in range(2):
            item = Item(zjtx)
            item.accept()
            tasks.append(item.dispatch("区科技局")["instance"]["open_tasks"][0]["id"])
        now = datetime.now(UTC)
        with zjtx.db.write() as session:
            for offset, task_id in zip((2, 4), tasks, strict=True):
                task = session.get(HumanTask, task_id)
                due = now + timedelta(seconds=offset)  # the level before 催办 done: 催办 falls due at the deadline
                task.due_at, task.next_escalation_at, task.escalation_level, task.warn_before_days = due, due, 1, 0
        scheduler.start_background()

        def fired():
            """both tasks urged"""
            with zjtx.db.read() as session:
                rows = session.execute(select(Escalation.task_id, Escalation.scheduled_at, Escalation.fired_at)
                                       .where(Escalation.task_id.in_(tasks))).all()
            return rows if len(rows) == 2 else None
        rows = wait_for(fired, timeout=25)
        for _, scheduled, fired_at in rows:
            assert fired_at >= scheduled  # never early
            assert (fired_at - scheduled).total_seconds() < 10  # at its moment, not at the tick 30 s on
    finally:
        scheduler.shutdown()
        zjtx.close()


def test_a_tick_knows_the_next_due_moment(zjtx):
    """What a wake is planned from: the earliest moment still to come, of every kind that has one."""
    item = Item(zjtx)
    item.accept()
    task_id = item.dispatch("区科技局")["instance"]["open_tasks"][0]["id"]
    with zjtx.db.read() as session:
        first = session.scalar(select(HumanTask.next_escalation_at).where(HumanTask.id == task_id))
    scheduler = Scheduler(zjtx)
    scheduler.tick()
    assert scheduler.soonest is not None and scheduler.soonest <= first
