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
from engine.storage import district
from engine.storage.models import District, Escalation, HumanTask, OutboxMessage

TICK_SECONDS = Histogram("zjtx_scheduler_tick_seconds", "Duration of one scheduler tick",
                         buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
WORK_DONE = Counter("zjtx_scheduler_work", "Work the scheduler did in this process, by kind and district",
                    ["kind", "district"])


class DistrictField(logging.Filter):
    """Every log line names the district its work was for (its id; 全市 for work across districts), unless the
    line names it itself (the scheduler names the division code)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "district"):
            current = district.current()
            record.district = "全市" if current == district.ALL else str(current)
        return True


def render(db, now) -> bytes:
    """The deployment's figures, each by district (its division code), read across districts."""
    registry = CollectorRegistry()
    open_tasks = Gauge("zjtx_tasks_open", "Open user tasks", ["district"], registry=registry)
    overdue = Gauge("zjtx_tasks_overdue", "Open user tasks past their deadline", ["district"], registry=registry)
    escalations = Gauge("zjtx_escalations_fired", "Escalations fired, by level", ["level", "district"],
                        registry=registry)
    queue = Gauge("zjtx_notification_queue", "Outbox messages by status", ["status", "district"], registry=registry)
    is_open = HumanTask.status.in_(OPEN_STATUSES)
    with district.across(), db.read() as session:
        codes = dict(session.execute(select(District.id, District.code)).all())
        for code in codes.values():  # a district with nothing open still shows its zeros
            open_tasks.labels(district=code).set(0)
            overdue.labels(district=code).set(0)
        for district_id, count in session.execute(select(HumanTask.district_id, func.count(HumanTask.id))
                                                  .where(is_open).group_by(HumanTask.district_id)):
            open_tasks.labels(district=codes[district_id]).set(count)
        for district_id, count in session.execute(select(HumanTask.district_id, func.count(HumanTask.id))
                                                  .where(is_open, HumanTask.due_at < now)
                                                  .group_by(HumanTask.district_id)):
            overdue.labels(district=codes[district_id]).set(count)
        for level, district_id, count in session.execute(
                select(Escalation.level, Escalation.district_id, func.count(Escalation.id))
                .group_by(Escalation.level, Escalation.district_id)):
            escalations.labels(level=str(level), district=codes[district_id]).set(count)
        for status, district_id, count in session.execute(
                select(OutboxMessage.status, OutboxMessage.district_id, func.count(OutboxMessage.id))
                .group_by(OutboxMessage.status, OutboxMessage.district_id)):
            queue.labels(status=status, district=codes[district_id]).set(count)
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
        for key in ("district", "instance_id", "task_id", "actor", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(district)s] %(message)s"))
    handler.addFilter(DistrictField())
    root = logging.getLogger("zjtx")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
