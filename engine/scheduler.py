"""The node-local trigger. APScheduler only wakes us; the database says what is due.

Each tick runs four indexed "what is due now" queries — escalations, BPMN timers, scheduled
process starts, outbox deliveries — and works through the due rows in small batches. Its cost
depends on how much is due, not on how many instances exist.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine.metrics import TICK_SECONDS

log = logging.getLogger("zjtx.scheduler")


class Scheduler:
    def __init__(self, engine, batch: int = 20, budget_seconds: float = 5.0):
        self.engine = engine
        self.batch = batch
        self.budget = budget_seconds
        self._lock = threading.Lock()
        self._apscheduler = None

    def tick(self) -> dict:
        """Do everything that is due now, within a time budget. Returns counts by kind."""
        if not self._lock.acquire(blocking=False):
            return {}
        started = time.monotonic()
        try:
            deadline = time.monotonic() + self.budget
            counts = {"escalations": 0, "timers": 0, "schedules": 0, "deliveries": 0}
            jobs = [
                ("escalations", lambda: self.engine.escalations.fire_due(self.batch)),
                ("timers", lambda: self.engine.workflows.fire_due_timers(self.batch)),
                ("schedules", lambda: self.engine.schedules.run_due(self.batch)),
                ("deliveries", lambda: self.engine.deliverer.deliver_due(self.batch)),
            ]
            for name, job in jobs:
                while time.monotonic() < deadline:
                    try:
                        done = job()
                    except Exception:  # one failing kind of work must not stop the others
                        log.exception("scheduler job %s failed", name)
                        break
                    counts[name] += done
                    if done < self.batch:
                        break
            if any(counts.values()):
                log.info("tick did work: %s", counts, extra={"duration_ms": round((time.monotonic() - started) * 1000)})
            return counts
        finally:
            TICK_SECONDS.observe(time.monotonic() - started)
            self._lock.release()

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
        scheduler.add_job(self.tick, "interval", seconds=self.engine.settings.tick_seconds, id="zjtx-tick",
                          max_instances=1, coalesce=True, misfire_grace_time=None)

    def start_background(self) -> None:
        """Run ticks in a background thread (inside the web process)."""
        self._apscheduler = BackgroundScheduler(daemon=True)
        self._add_job(self._apscheduler)
        self._apscheduler.start()

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
