"""BPMN timers (and steps left to go on after an operation) that have fallen due.

Only instances whose stored moment (process_instance.next_timer_at, indexed) has passed are loaded.
Each is claimed for a lease with a conditional UPDATE, so two schedulers never run one instance at
once, computed outside any lock and written on its own (engine.runtime.stepper).
"""
from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict
from engine.identity import authz
from engine.runtime.stepper import MAX_ROUNDS, RUNNING, TIMER_LEASE, Stepper
from engine.storage.models import ProcessInstance


class TimerService:
    def __init__(self, stepper: Stepper):
        self.stepper = stepper

    @staticmethod
    def probe(now: datetime):
        """A query with a row when some BPMN timer is due."""
        return select(ProcessInstance.id).where(ProcessInstance.next_timer_at <= now)

    @staticmethod
    def next_due():
        """The moment the next BPMN timer falls due (the scheduler wakes then)."""
        return select(func.min(ProcessInstance.next_timer_at))

    def fire_due(self, limit: int = 20) -> int:
        """Run up to ``limit`` due instances; one failing instance backs off and, after its attempts,
        becomes an incident; it never holds back the others. Returns how many were taken."""
        stepper = self.stepper
        now = stepper.clock()
        with stepper.db.read() as session:
            due = list(session.execute(
                select(ProcessInstance.id, ProcessInstance.next_timer_at)
                .where(ProcessInstance.next_timer_at <= now, ProcessInstance.status == RUNNING)
                .order_by(ProcessInstance.next_timer_at).limit(limit)))
        taken = 0
        for instance_id, due_at in due:
            if not self._claim(instance_id, due_at, now + TIMER_LEASE):
                continue  # another scheduler has it
            taken += 1
            try:
                for _ in range(MAX_ROUNDS):
                    if stepper.advance(instance_id, authz.SYSTEM, refresh_timers=True) != "paused":
                        break
            except Conflict:
                continue  # a user completed a task of it meanwhile; its new state decides what is due
            except Exception as exc:
                stepper.instance_failed(instance_id, exc)
        return taken

    def _claim(self, instance_id: int, due_at: datetime, until: datetime) -> bool:
        def work(session: Session) -> bool:
            claimed = session.execute(
                update(ProcessInstance).where(ProcessInstance.id == instance_id,
                                              ProcessInstance.next_timer_at == due_at,
                                              ProcessInstance.status == RUNNING)
                .values(next_timer_at=until).execution_options(synchronize_session=False))
            return cast(CursorResult, claimed).rowcount == 1
        return self.stepper.run_write(work)
