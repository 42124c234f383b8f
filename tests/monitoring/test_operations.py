"""Operations: Prometheus metrics, JSON logs, the WSGI entry point for gunicorn."""
from __future__ import annotations

import json
import logging

import pytest

from engine.monitoring.metrics import JsonFormatter
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import HumanTask
from tests.helpers import Item

pytestmark = pytest.mark.sqlite_only


def test_metrics_report_tasks_escalations_queue_and_tick_time(zjtx):
    from datetime import UTC, datetime

    import time_machine

    from web import create_app

    with time_machine.travel(datetime(2026, 9, 1, 2, 0, tzinfo=UTC), tick=False):
        item = Item(zjtx)
        item.accept()
        item.dispatch("区科技局")
    # Six weeks on: the task is long overdue, and no periodic start falls due (as one would on its day).
    with time_machine.travel(datetime(2026, 10, 14, 2, 0, tzinfo=UTC), tick=False):
        Scheduler(zjtx).tick()
        text = create_app(services=zjtx).test_client().get("/metrics").get_data(as_text=True)
    # the sign task and its 督办 item, each figure by district (黔江区: 500114)
    assert 'zjtx_tasks_open{district="500114"} 2.0' in text and 'zjtx_tasks_overdue{district="500114"} 1.0' in text
    assert 'zjtx_escalations_fired{district="500114",level="2"} 1.0' in text
    assert 'zjtx_escalations_fired{district="500114",level="3"} 1.0' in text
    assert "zjtx_scheduler_tick_seconds_count" in text


def test_logs_can_be_json_lines():
    record = logging.LogRecord("zjtx.scheduler", logging.INFO, __file__, 1, "tick did work: %s", ({"timers": 1},),
                               None)
    record.duration_ms = 12
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == "zjtx.scheduler" and line["duration_ms"] == 12 and "timers" in line["message"]


def test_the_wsgi_entry_point_builds_the_app(zjtx, database_url, monkeypatch):
    # `zjtx`: on an initialised database (on an empty one wsgi.py refuses to start)
    import importlib
    import sys

    monkeypatch.setenv("DATABASE_URL", database_url)
    sys.modules.pop("wsgi", None)
    module = importlib.import_module("wsgi")
    assert module.app.name == "web"


@pytest.mark.slow
def test_the_benchmark_runs(zjtx, tmp_path):
    from tools.bench import run

    results = run(zjtx, [20, 40], 3, tmp_path / "bench.json", p4_tasks=20, p4_window=2, p6_seconds=1, p7_seconds=2,
                  p8_requests=120, lead_seconds=1)
    assert [row["id"] for row in results["table"]] == \
        ["P1", "P1g", "P2", "P3", "P3a", "P4", "P5", "P6", "P7", "P8", "P9"]
    assert results["memory"]["requests"] == 120 and results["memory"]["last_kb"] > 0
    assert results["lateness"]["fired"] == 20 and results["throughput"]["instances"] > 0
    assert results["scheduler_cpu"]["alive"] and results["bytes_per_instance_kb"] > 0
    # P9: the worker round trip is measured against the same code run in the engine's own process.
    isolation = results["isolation"]
    assert isolation["worker"]["median_ms"] > isolation["in_process"]["median_ms"] > 0
    assert isolation["evaluations_per_step"] > 0
    assert (tmp_path / "bench.json").is_file() and all("holds" in row for row in results["table"])


def test_inbox_counts_stop_at_the_cap_and_paging_still_works(zjtx):
    """Tab badges count up to 99 (then "99+") so the page costs the same at any size; paging uses one
    extra row to know whether there is a next page."""
    from engine.identity.authz import actor_for
    from engine.queries.views import COUNT_CAP, InboxFilter
    from engine.storage.models import Department
    from tools.bench import Bench

    with zjtx.db.read() as session:
        science = session.query(Department).filter_by(name="区科技局").one().id
        actor = actor_for(session, "science_tech_bureau_liaison")
    Bench(zjtx).populate(130, [science])
    first = zjtx.queries.inbox(actor, InboxFilter(tab="to_sign", per_page=20))
    assert first["counts"]["to_sign"] == COUNT_CAP + 1 and first["count_labels"]["to_sign"] == "99+"
    assert first["counts"]["completed"] == 0 and first["count_labels"]["completed"] == "0"
    assert len(first["items"]) == 20 and first["has_next"]
    with zjtx.db.read() as session:
        open_count = session.query(HumanTask).filter_by(department_id=science, status="to_sign").count()
    last_page = (open_count + 19) // 20
    last = zjtx.queries.inbox(actor, InboxFilter(tab="to_sign", per_page=20, page=last_page))
    assert len(last["items"]) == open_count - 20 * (last_page - 1) and not last["has_next"]
    seen = {t["id"] for p in range(1, last_page + 1)
            for t in zjtx.queries.inbox(actor, InboxFilter(tab="to_sign", per_page=20, page=p))["items"]}
    assert len(seen) == open_count
