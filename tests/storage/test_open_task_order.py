"""A unit's list of open tasks is read in index order (issue 21's P3): the department list (API and ``zjtx tasks``)
and the inbox's 即将到期/已逾期 tabs name the open statuses literally, which is how SQLite sees that the partial
indexes of open tasks (migration 0032) hold what they ask for; no list sorts all of a unit's open tasks."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from engine.identity.authz import actor_for
from engine.queries.views import InboxFilter
from engine.runtime.projection import OPEN_STATUSES
from engine.storage.models.processes import OPEN_INDEX_WHERE
from tests.helpers import Item, liaison

pytestmark = pytest.mark.sqlite_only  # SQLite's plans; PostgreSQL's are measured by make bench (P3)
LEAD = "区科技局"


def _plans(zjtx, call) -> dict[str, list[str]]:
    """The query plan of every SELECT of human_task ``call()`` sends, by the statement's start."""
    seen: list[tuple[str, tuple]] = []

    def record(_conn, _cursor, sql, params, *_args):
        if sql.lstrip().startswith("SELECT") and "FROM human_task" in sql:
            seen.append((sql, params))
    event.listen(zjtx.db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(zjtx.db.engine, "before_cursor_execute", record)
    raw = zjtx.db.engine.raw_connection()
    try:
        return {sql[:200]: [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()]
                for sql, params in seen}
    finally:
        raw.close()


def test_the_partial_indexes_say_the_open_statuses():
    listed = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    assert f"status IN ({listed})" == OPEN_INDEX_WHERE


def test_a_units_open_lists_are_read_in_index_order(zjtx):
    for _ in range(3):
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD)
    with zjtx.db.read() as session:
        actor = actor_for(session, liaison(LEAD))
    department = _plans(zjtx, lambda: zjtx.queries.tasks(department=LEAD))
    tabs = {tab: _plans(zjtx, lambda tab=tab: zjtx.queries.inbox(actor, InboxFilter(tab=tab)))
            for tab in ("due_soon", "overdue")}
    listed = [plan for plans in (department, *tabs.values()) for plan in plans.values()
              if any("ix_human_task_open_department" in step for step in plan)]
    assert len(listed) >= 3, (department, tabs)
    for plan in listed:
        assert not any("TEMP B-TREE FOR ORDER BY" in step for step in plan), plan
    assert len(zjtx.queries.tasks(department=LEAD)) == 3
