"""SQLite's planner statistics (issue 21's P3): SQLite has no autovacuum, so the scheduler gathers them at its
start and hourly; without them SQLite chose indexes by their number of equalities alone, and a unit's inbox
counted its tasks through the unit's index where the tab's own index held a handful."""
from __future__ import annotations

from sqlalchemy import text

from engine.scheduling.scheduler import Scheduler
from tests.helpers import Item, wait_for


def _stats(zjtx) -> int:
    with zjtx.db.read() as session:
        if not session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
            return 0
        return session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'human_task'"))


def test_the_scheduler_gathers_sqlites_statistics_at_its_start(database_url, make_engine):
    zjtx = make_engine(database_url)
    try:
        if zjtx.db.dialect != "sqlite":
            assert zjtx.db.analyze() is False  # PostgreSQL's autovacuum keeps its own
            return
        item = Item(zjtx)
        item.accept()
        item.dispatch("区科技局")
        assert _stats(zjtx) == 0
        scheduler = Scheduler(zjtx)
        scheduler.start_background()
        try:
            assert wait_for(lambda: _stats(zjtx), timeout=20) >= 1
        finally:
            scheduler.shutdown()
        assert zjtx.queries.tasks(department="区科技局")  # and the lists read on
    finally:
        zjtx.close()
