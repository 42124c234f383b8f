"""Operational figures for Prometheus (``/metrics``) and structured (JSON) logs.

Gauges are read from indexed columns at scrape time, so every node reports the same numbers;
the scheduler's tick duration and the caches (engine.bytecache) are per process.
"""
from __future__ import annotations

import json
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from engine import bytecache
from engine.runtime.projection import OPEN_STATUSES
from engine.storage.models import Escalation, HumanTask, OutboxMessage

TICK_SECONDS = Histogram("zjtx_scheduler_tick_seconds", "Duration of one scheduler tick",
                         buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))


def render(db, now) -> bytes:
    registry = CollectorRegistry()
    open_tasks = Gauge("zjtx_tasks_open", "Open user tasks", registry=registry)
    overdue = Gauge("zjtx_tasks_overdue", "Open user tasks past their deadline", registry=registry)
    escalations = Gauge("zjtx_escalations_fired", "Escalations fired, by level", ["level"], registry=registry)
    queue = Gauge("zjtx_notification_queue", "Outbox messages by status", ["status"], registry=registry)
    with db.read() as session:
        open_tasks.set(session.scalar(select(func.count(HumanTask.id)).where(HumanTask.status.in_(OPEN_STATUSES))))
        overdue.set(session.scalar(select(func.count(HumanTask.id)).where(
            HumanTask.status.in_(OPEN_STATUSES), HumanTask.due_at < now)))
        for level, count in session.execute(select(Escalation.level, func.count(Escalation.id))
                                            .group_by(Escalation.level)):
            escalations.labels(level=str(level)).set(count)
        for status, count in session.execute(select(OutboxMessage.status, func.count(OutboxMessage.id))
                                             .group_by(OutboxMessage.status)):
            queue.labels(status=status).set(count)
    _caches(registry)
    return generate_latest(registry) + generate_latest()  # the second: this process's tick histogram


def _caches(registry: CollectorRegistry) -> None:
    """This process's caches (not the script workers'): bytes held against the budget, and use."""
    held = Gauge("zjtx_cache_bytes", "Estimated bytes held by a cache of this process", ["cache"], registry=registry)
    budget = Gauge("zjtx_cache_budget_bytes", "Byte budget of a cache of this process", ["cache"], registry=registry)
    entries = Gauge("zjtx_cache_entries", "Entries in a cache of this process", ["cache"], registry=registry)
    hits = Counter("zjtx_cache_hits", "Cache hits in this process", ["cache"], registry=registry)
    misses = Counter("zjtx_cache_misses", "Cache misses in this process", ["cache"], registry=registry)
    for stats in bytecache.all_stats():
        held.labels(cache=stats.name).set(stats.bytes)
        budget.labels(cache=stats.name).set(stats.budget)
        entries.labels(cache=stats.name).set(stats.entries)
        hits.labels(cache=stats.name).inc(stats.hits)
        misses.labels(cache=stats.name).inc(stats.misses)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key in ("instance_id", "task_id", "actor", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("zjtx")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
