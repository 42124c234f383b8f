"""The scheduler across districts (issue 20): each district's due work is done in that district's scope (its
escalations reach its own people), and districts take turns, so one with a backlog cannot starve another."""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from engine.identity.org import get_user, load_departments_data
from engine.scheduling.scheduler import WORK, Scheduler
from engine.storage import district
from engine.storage.models import Escalation, InboxMessage
from tests.helpers import REGISTRATION, Item, liaison

BJ = ZoneInfo("Asia/Shanghai")
LEAD = "区科技局"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def dispatched(zjtx, prefix: str = "") -> int:
    if not prefix:
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD, days=3)
        return item.id
    started = zjtx.workflows.start("problem_dispatch", dict(REGISTRATION), actor=f"{prefix}dispatcher")
    for data in ({"triage_decision": "accept"},
                 {"lead_department": LEAD, "lead_due_working_days": 3, "co_handlers": []}):
        task = zjtx.queries.tasks(instance_id=started["id"])[0]
        zjtx.workflows.complete(task["id"], data, f"{prefix}dispatcher")
    return started["id"]


def inbox_of(zjtx, username: str) -> list[str]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)))


def test_each_districts_escalations_fire_in_that_district_and_reach_its_own_people(zjtx, caplog):
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        second = zjtx.create_district("500243", "彭水县", units=load_departments_data(), demo_prefix="ps_")
        dispatched(zjtx)
        with district.scope(second):
            theirs = dispatched(zjtx, "ps_")
        clock.move_to(at("2026-10-10 00:00:01"))  # past both deadlines (three working days after 9-29)
        with caplog.at_level(logging.INFO, logger="zjtx"):
            counts = Scheduler(zjtx).run_until_idle()
    assert counts["escalations"] >= 2
    with district.scope(district.ALL), zjtx.db.read() as session:
        fired = {(e.district_id, e.instance_id) for e in session.scalars(select(Escalation))}
    assert (second, theirs) in fired and any(d == district.FIRST_DISTRICT for d, _ in fired)
    assert any("催办" in t or "预警" in t for t in inbox_of(zjtx, liaison(LEAD)))
    with district.scope(second):
        assert any("催办" in t or "预警" in t for t in inbox_of(zjtx, f"ps_{liaison(LEAD)}"))


def test_districts_take_turns_one_batch_each(zjtx, monkeypatch):
    """A district with much due work and one with a little: the second's batch comes right after the first's
    first batch, not after its whole backlog."""
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        second = zjtx.create_district("500243", "彭水县", units=load_departments_data(), demo_prefix="ps_")
        for _ in range(3):
            dispatched(zjtx)
        with district.scope(second):
            dispatched(zjtx, "ps_")
        clock.move_to(at("2026-10-10 00:00:01"))
        scheduler = Scheduler(zjtx, batch=1)
        jobs = scheduler._jobs
        turns: list[int] = []

        def recorded():
            table = jobs()
            probe, job, next_due = table["escalations"]

            def escalations():
                turns.append(district.current())
                return job()
            return {**table, "escalations": (probe, escalations, next_due)}

        monkeypatch.setattr(scheduler, "_jobs", recorded)
        scheduler.tick(WORK)
    assert turns[:2] == [district.FIRST_DISTRICT, second]
    assert turns.count(district.FIRST_DISTRICT) >= 3
