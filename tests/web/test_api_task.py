"""``GET /api/v1/tasks/<id>`` (issue 21's P1g): the task, whether one may act on it and its item's history, in at
most three statements for the whole request (the token's, the task's, the history's) however long the history
and however many users the district has; and only to whom may see it."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from engine.identity.accounts import issue_token
from engine.identity.org import get_user
from tests.helpers import Item, liaison

LEAD, CO = "区科技局", "区财政局"


def _client(app, zjtx, username: str):
    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, username).id, "测试")
    client = app.test_client()
    return lambda path: client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def statements(zjtx):
    seen: list[str] = []

    def record(_conn, _cursor, sql, *_args):
        if sql.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's own BEGIN is local
            seen.append(sql)
    engines = {zjtx.db.engine, zjtx.db.write_engine, zjtx.db.across_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)


def test_the_task_its_rights_and_its_history_in_three_statements(app, zjtx, statements):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, co={CO: 3})
    sign = item.task("sign", LEAD)
    get = _client(app, zjtx, liaison(LEAD))
    get(f"/api/v1/tasks/{sign['id']}")  # warm: the reference caches, the token's first use
    statements.clear()
    shown = get(f"/api/v1/tasks/{sign['id']}")
    assert shown.status_code == 200
    body = shown.get_json()
    assert len(statements) <= 3, statements
    assert (body["name"], body["department"], body["status"], body["can_act"]) == ("签收", LEAD, "to_sign", True)
    steps = [h["code"] for h in body["history"]]
    assert steps[:1] == ["start"] and "complete" in steps
    dispatched = next(h for h in body["history"] if h["task"] == "交办" and h["code"] == "complete")
    assert dispatched["actor"] == "区经济信息委交办员"  # as the task page names people
    assert any(title == "主办单位" for title, _ in dispatched["fields"])
    from engine.identity.authz import actor_for

    with zjtx.db.read() as session:
        page = zjtx.queries.task_detail(actor_for(session, liaison(LEAD)), sign["id"])["history"]
    assert [(h["code"], h["actor"], h["action"], h["task"]) for h in body["history"]] == \
        [(h["code"], h["actor"], h["action"], h["task"]) for h in page]  # the page's history, to the word
    # Another unit's liaison on the item sees it but may not act; one not on it gets 404.
    other = _client(app, zjtx, liaison(CO))(f"/api/v1/tasks/{sign['id']}").get_json()
    assert other["can_act"] is False and other["history"] == body["history"]
    stranger = _client(app, zjtx, liaison("区商务委"))(f"/api/v1/tasks/{sign['id']}")
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "task_not_found"
