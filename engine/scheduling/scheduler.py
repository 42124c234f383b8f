"""The node-local trigger. APScheduler only wakes us; the database says what is due.

Each tick asks one question of the database — is any pause at its limit, escalation, BPMN timer,
scheduled start or outbox delivery due now? (five indexed EXISTS in one statement) — and works through
the kinds that are, in small batches. Its cost depends on how much is due, not on how many instances exist.

Work is done district by district (docs/districts.md): for each kind that is due, the districts of its due rows
are read from the same index (as many rows as are due), and the districts with work take turns, one batch each, so a district
with thousands of rows due delays the others by one batch at most. Each batch runs in its district's scope: the
service layer's filter and PostgreSQL's row-level security show it that district's rows only, and what it writes
is that district's.

Sending mail and webhooks waits on other servers, so it runs as its own job (its own thread):
a slow mail server never holds back an escalation, a timer or a scheduled start.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select

from engine.monitoring.metrics import TICK_SECONDS, WORK_DONE
from engine.storage import district
from engine.storage.models import District

log = logging.getLogger("zjtx.scheduler")


WORK = ("pauses", "escalations", "timers", "schedules")
DELIVERY = ("deliveries",)
DISTRICTS_SECONDS = 30.0  # a new district's work is found within this long


class Scheduler:
    def __init__(self, engine, batch: int = 20, budget_seconds: float = 5.0):
        self.engine = engine
        self.batch = batch
        self.budget = budget_seconds
        self._locks = {WORK: threading.Lock(), DELIVERY: threading.Lock()}
        self._apscheduler = None
        self._districts: tuple[list[tuple[int, str]], float] | None = None

    def _jobs(self) -> dict:
        e, batch = self.engine, self.batch
        return {
            "escalations": (e.escalations.due_probe, lambda: e.escalations.fire_due(batch)),
            "pauses": (e.pauses.due_probe, lambda: e.pauses.flag_due(batch)),
            "timers": (e.timers.probe, lambda: e.timers.fire_due(batch)),
            "schedules": (e.schedules.due_probe, lambda: e.schedules.run_due(batch)),
            "deliveries": (e.deliverer.due_probe, lambda: e.deliverer.deliver_due(batch)),
            # the procedures' own periodic work (engine.runtime.extensions.Job), with the other work
            **{j.name: (lambda now, j=j: j.probe(e, now), lambda j=j: j.run(e, batch)) for j in self._procedure_jobs()},
        }

    def _procedure_jobs(self) -> list:
        extensions = getattr(self.engine, "extensions", None)
        return extensions.jobs() if extensions is not None else []

    def districts(self) -> list[tuple[int, str]]:
        """The active districts (id, division code), read again every ``DISTRICTS_SECONDS``."""
        held = self._districts
        if held is None or time.monotonic() - held[1] > DISTRICTS_SECONDS:
            with district.across(), self.engine.db.read() as session:
                rows = [(i, c) for i, c in session.execute(select(District.id, District.code)
                                                           .where(District.active.is_(True)).order_by(District.id))]
            held = self._districts = (rows, time.monotonic())
        return held[0]

    def _due(self, kinds: tuple[str, ...], jobs: dict) -> dict[str, deque]:
        """For each kind of work due now, the districts where some is: one statement of indexed EXISTS (as with one
        district), then for each kind that is due the districts of its due rows (read from the same due-moment
        index: as many rows as are due, not as many as are waiting)."""
        now = self.engine.workflows.clock()
        probes = {kind: jobs[kind][0](now) for kind in kinds}
        known = self.districts()
        with district.across(), self.engine.db.read() as session:
            flags = session.execute(select(*[p.exists() for p in probes.values()])).one()
            due: dict[str, deque] = {}
            for kind, flag in zip(kinds, flags, strict=True):
                if not flag:
                    continue
                if len(known) == 1:
                    due[kind] = deque(known)
                    continue
                entity = probes[kind].column_descriptions[0]["entity"]
                having = set(session.scalars(probes[kind].with_only_columns(entity.district_id).distinct()))
                due[kind] = deque(d for d in known if d[0] in having)
        return due

    def _run(self, name: str, job, turns: deque, deadline: float, counts: dict) -> None:
        """The districts with ``name`` work due take turns, one batch each, until none has more or time is up."""
        while turns and time.monotonic() < deadline:
            district_id, code = turns.popleft()
            try:
                with district.scope(district_id):
                    done = job()
            except Exception:  # one failing kind of work (in one district) must not stop the others
                log.exception("scheduler job %s failed", name, extra={"district": code})
                continue
            counts[name] += done
            if done:
                WORK_DONE.labels(kind=name, district=code).inc(done)
            if done >= self.batch:
                turns.append((district_id, code))

    def tick(self, kinds: tuple[str, ...] = WORK + DELIVERY) -> dict:
        """Do everything of ``kinds`` that is due now, within a time budget. Returns counts by kind."""
        if kinds == WORK + DELIVERY:  # both groups, one after the other (tests, run_until_idle)
            counts = self.tick(WORK)
            counts.update(self.tick(DELIVERY))
            return counts
        lock = self._locks[kinds]
        if not lock.acquire(blocking=False):
            return {}
        if kinds == WORK:
            kinds = WORK + tuple(j.name for j in self._procedure_jobs())
        started = time.monotonic()
        try:
            deadline = time.monotonic() + self.budget
            counts = dict.fromkeys(kinds, 0)
            jobs = self._jobs()
            try:
                due = self._due(kinds, jobs)
            except Exception:  # the database is away: try again next tick
                log.exception("scheduler could not ask what is due")
                return counts
            for name, turns in due.items():
                self._run(name, jobs[name][1], turns, deadline, counts)
            if any(counts.values()):
                log.info("tick did work: %s", counts, extra={"duration_ms": round((time.monotonic() - started) * 1000)})
            return counts
        finally:
            TICK_SECONDS.observe(time.monotonic() - started)
            lock.release()

    def tick_work(self) -> dict:
        return self.tick(WORK)

    def tick_deliveries(self) -> dict:
        return self.tick(DELIVERY)

    def run_until_idle(self, max_ticks: int = 1000) -> dict:
        """Tick until nothing more is due now (deliveries failing with backoff end the loop)."""
        total: dict[str, int] = {}
        for _ in range(max_ticks):
            counts = self.tick()
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
            if not any(counts.values()):
                break
        return total

    def _add_job(self, scheduler) -> None:
        every = self.engine.settings.tick_seconds
        scheduler.add_job(self.tick_work, "interval", seconds=every, id="zjtx-tick",
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.add_job(self.tick_deliveries, "interval", seconds=every, id="zjtx-deliver",
                          max_instances=1, coalesce=True, misfire_grace_time=None)

    def start_background(self) -> None:
        """Run ticks in a background thread (inside the web process)."""
        scheduler = self._apscheduler = BackgroundScheduler(daemon=True)
        self._add_job(scheduler)
        scheduler.start()

    def run_forever(self) -> None:
        """``zjtx scheduler``: block and tick until interrupted (Ctrl+C or SIGTERM).

        SIGTERM (how systemd, Kubernetes and process managers stop a service) lets the tick in
        progress finish: without this, Python's default action ends the process at once, and e-mail
        it had claimed stays 'sending' until its lease runs out (and the message being sent may go
        out twice)."""
        scheduler = BlockingScheduler()
        self._add_job(scheduler)

        def stop(_signum, _frame):
            if scheduler.running:
                scheduler.shutdown(wait=True)  # no new ticks; waits for the running one

        previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def shutdown(self) -> None:
        if self._apscheduler is not None:
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None
