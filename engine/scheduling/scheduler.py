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

import contextlib
import logging
import signal
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
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
ANALYZE_SECONDS = 3600.0  # SQLite: the planner's statistics gathered again this often
# A planned wake comes this long after the due moment, so that the moment has passed by the database's clock too.
WAKE_MARGIN_SECONDS = 0.002


class Scheduler:
    def __init__(self, engine, batch: int = 20, budget_seconds: float = 5.0):
        self.engine = engine
        self.batch = batch
        self.budget = budget_seconds
        self._locks = {WORK: threading.Lock(), DELIVERY: threading.Lock()}
        self._apscheduler = None
        self._districts: tuple[list[tuple[int, str]], float] | None = None
        self.soonest: datetime | None = None  # the earliest moment some work falls due, as the last tick saw it
        self._wakes, self._wake_id = 0, None  # the wakes planned for such moments (a job each)

    def _jobs(self) -> dict:
        """name → (probe(now): a query with a row when some is due, run(): one batch of it, next_due: a query of the
        moment the next of it falls due, for the kinds that have one)."""
        e, batch = self.engine, self.batch
        return {
            "escalations": (e.escalations.due_probe, lambda: e.escalations.fire_due(batch), e.escalations.next_due),
            "pauses": (e.pauses.due_probe, lambda: e.pauses.flag_due(batch), e.pauses.next_due),
            "timers": (e.timers.probe, lambda: e.timers.fire_due(batch), e.timers.next_due),
            "schedules": (e.schedules.due_probe, lambda: e.schedules.run_due(batch), e.schedules.next_due),
            "deliveries": (e.deliverer.due_probe, lambda: e.deliverer.deliver_due(batch), None),
            # the procedures' own periodic work (engine.runtime.extensions.Job), with the other work
            **{j.name: (lambda now, j=j: j.probe(e, now), lambda j=j: j.run(e, batch), None)
               for j in self._procedure_jobs()},
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
        """For each kind of work due now, the districts where some is: one statement (as with one district) of each
        kind's next due moment (the first entry of its due-moment index), or of an indexed EXISTS for a kind without
        one; then for each kind that is due the districts of its due rows (read from the same index: as many rows as
        are due, not as many as are waiting). Keeps the earliest moment still to come in ``self.soonest``."""
        now = self.engine.workflows.clock()
        probes = {kind: jobs[kind][0](now) for kind in kinds}
        known = self.districts()
        with district.across(), self.engine.db.read() as session:
            values = session.execute(select(*[
                jobs[kind][2]().scalar_subquery() if jobs[kind][2] is not None else probes[kind].exists()
                for kind in kinds])).one()
            flags = [value is True or (value is not None and value is not False and value <= now) for value in values]
            if any(jobs[kind][2] is not None for kind in kinds):  # (the deliveries' tick leaves it as the work's)
                self.soonest = min((v for v in values if isinstance(v, datetime) and v > now), default=None)
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

    def _next_due(self, kinds: tuple[str, ...], jobs: dict) -> datetime | None:
        """The earliest moment some work of ``kinds`` falls due, asked again after a tick did some."""
        queries = [jobs[kind][2]().scalar_subquery() for kind in kinds if jobs[kind][2] is not None]
        if not queries:
            return None
        with district.across(), self.engine.db.read() as session:
            return min((v for v in session.execute(select(*queries)).one() if v is not None), default=None)

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
                if any(jobs[kind][2] is not None for kind in kinds):
                    try:  # what is due next, now that this has been done
                        self.soonest = self._next_due(kinds, jobs)
                    except Exception:
                        log.exception("scheduler could not ask what is due next")
                        self.soonest = None
            return counts
        finally:
            TICK_SECONDS.observe(time.monotonic() - started)
            lock.release()

    def tick_work(self) -> dict:
        """A tick of the work (not the deliveries), then a wake planned for the next due moment if it comes before
        the next tick: work due between ticks is done when it falls due, not up to a tick later."""
        self.soonest = None
        counts = self.tick(WORK)
        if counts:  # (empty: another tick was running, which plans the wake itself)
            self._plan_wake(self.soonest)
        return counts

    def _plan_wake(self, moment: datetime | None) -> None:
        scheduler = self._apscheduler
        if scheduler is None or moment is None:
            return
        delay = (moment - self.engine.workflows.clock()).total_seconds()
        if delay >= self.engine.settings.tick_seconds:
            return  # the next tick comes first
        run_at = datetime.now(UTC) + timedelta(seconds=max(delay, 0.0) + WAKE_MARGIN_SECONDS)
        # A job of its own each time: the wake running now still counts as a running instance of its job until it
        # returns, and APScheduler would skip a next run of the same job that came before. The one planned before
        # (if it has not run) is dropped: one wake, at the earliest moment known.
        self._wakes += 1
        previous, self._wake_id = self._wake_id, f"zjtx-wake-{self._wakes}"
        if previous is not None:
            with contextlib.suppress(JobLookupError):  # it has just run
                scheduler.remove_job(previous)
        try:
            scheduler.add_job(self.tick_work, "date", run_date=run_at, id=self._wake_id, misfire_grace_time=None)
        except Exception:  # the scheduler is shutting down: the work waits for the next start's tick
            log.debug("could not plan the scheduler's wake", exc_info=True)

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
        # The first tick at once: what fell due while no scheduler ran is done, and the wake for the next is planned.
        scheduler.add_job(self.tick_work, "interval", seconds=every, id="zjtx-tick", next_run_time=datetime.now(UTC),
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.add_job(self.tick_deliveries, "interval", seconds=every, id="zjtx-deliver",
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        if self.engine.db.dialect == "sqlite":  # SQLite has no autovacuum to keep the planner's statistics
            scheduler.add_job(self.analyze, "interval", seconds=ANALYZE_SECONDS, id="zjtx-analyze",
                              next_run_time=datetime.now(UTC), max_instances=1, coalesce=True)

    def analyze(self) -> None:
        """SQLite's planner statistics brought up to date (engine.storage.db.Database.analyze): at start, then
        hourly, as the lists grow."""
        try:
            started = time.monotonic()
            self.engine.db.analyze()
            log.info("planner statistics gathered", extra={"duration_ms": round((time.monotonic() - started) * 1000)})
        except Exception:  # the database is busy or away: the next hour's run does it
            log.exception("could not gather the planner's statistics")

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
        scheduler = self._apscheduler = BlockingScheduler()
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
            self._apscheduler = None
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def shutdown(self) -> None:
        if self._apscheduler is not None:
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None
