"""Operations: Prometheus metrics, JSON logs, the WSGI entry point for gunicorn."""
from __future__ import annotations

import json
import logging

import pytest

from engine.metrics import JsonFormatter
from engine.scheduler import Scheduler
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
    Scheduler(zjtx).tick()
    text = create_app(engine=zjtx).test_client().get("/metrics").get_data(as_text=True)
    assert "zjtx_tasks_open 2.0" in text and "zjtx_tasks_overdue 1.0" in text  # the sign task and its 督办 item
    assert 'zjtx_escalations_fired{level="2"} 1.0' in text and 'zjtx_escalations_fired{level="3"} 1.0' in text
    assert "zjtx_scheduler_tick_seconds_count" in text


def test_logs_can_be_json_lines():
    record = logging.LogRecord("zjtx.scheduler", logging.INFO, __file__, 1, "tick did work: %s", ({"timers": 1},),
                               None)
    record.duration_ms = 12
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == "zjtx.scheduler" and line["duration_ms"] == 12 and "timers" in line["message"]


def test_the_wsgi_entry_point_builds_the_app(database_url, monkeypatch):
    import importlib
    import sys

    monkeypatch.setenv("DATABASE_URL", database_url)
    sys.modules.pop("wsgi", None)
    module = importlib.import_module("wsgi")
    assert module.app.name == "web"


def test_the_benchmark_runs(zjtx, tmp_path):
    from engine.bench import run

    results = run(zjtx, [20, 40], 3, tmp_path / "bench.json")
    assert [row["id"] for row in results["table"]] == ["P1", "P2", "P3", "P5"]
    assert (tmp_path / "bench.json").is_file() and all("holds" in row for row in results["table"])
