"""A comment, a file or a circular draft named by id belongs to the item (instance) it is posted to
(issue 15: ``POST /items/6/comments`` with another item's task id was stored against that task).
Anything else is refused naming the field, and nothing is written: no row, no audit record, no file."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import ValidationFailed
from engine.identity.authz import actor_for
from engine.storage.models import Attachment, Circular, Comment
from tests.helpers import Item, counts, liaison

LEAD = "区科技局"
PDF = b"%PDF-1.4 test"


@pytest.fixture
def engine(database_url, make_engine, tmp_path):
    services = make_engine(database_url, attachment_dir=tmp_path / "attachments")
    yield services
    services.close()


def _two_items(engine) -> tuple[Item, Item]:
    mine, other = Item(engine), Item(engine)
    for item in (mine, other):
        item.accept()
        item.dispatch(LEAD)
    return mine, other


def _actor(engine, username: str):
    with engine.db.read() as session:
        return actor_for(session, username)


def _rows(engine, model) -> int:
    with engine.db.read() as session:
        return session.scalar(select(func.count(model.id)))


def test_a_comment_on_another_items_task_is_refused_and_nothing_is_written(engine):
    mine, other = _two_items(engine)
    foreign_task = other.task("sign", LEAD)["id"]
    before = counts(engine, mine.id), counts(engine, other.id)
    with pytest.raises(ValidationFailed) as refused:
        engine.items.add_comment(_actor(engine, liaison(LEAD)), mine.id, "贴到别的事项上", task_id=foreign_task)
    assert "task_id" in refused.value.errors and f"不属于事项 {mine.id}" in refused.value.errors["task_id"]
    assert (counts(engine, mine.id), counts(engine, other.id)) == before
    assert _rows(engine, Comment) == 0


@pytest.mark.parametrize("task_id", [0, -3, 987654321, 2**63, 10**30])
def test_a_comment_on_a_task_that_does_not_exist_is_refused(engine, task_id):
    mine, _ = _two_items(engine)
    with pytest.raises(ValidationFailed) as refused:
        engine.items.add_comment(_actor(engine, "dispatcher"), mine.id, "说明", task_id=task_id)
    assert "task_id" in refused.value.errors
    assert _rows(engine, Comment) == 0


def test_a_comment_on_the_items_own_task_is_kept(engine):
    mine, _ = _two_items(engine)
    own_task = mine.task("sign", LEAD)["id"]
    engine.items.add_comment(_actor(engine, liaison(LEAD)), mine.id, "已联系企业", task_id=own_task)
    with engine.db.read() as session:
        [comment] = session.scalars(select(Comment))
    assert (comment.instance_id, comment.task_id) == (mine.id, own_task)


def test_a_file_for_another_items_task_is_refused_before_it_is_stored(engine, tmp_path):
    mine, other = _two_items(engine)
    foreign_task = other.task("sign", LEAD)["id"]
    with pytest.raises(ValidationFailed) as refused:
        engine.items.add_attachment(_actor(engine, liaison(LEAD)), mine.id, "说明.pdf", PDF, task_id=foreign_task)
    assert "task_id" in refused.value.errors
    assert _rows(engine, Attachment) == 0
    stored = tmp_path / "attachments"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
    # the same file on the item's own task is kept
    own = engine.items.add_attachment(_actor(engine, liaison(LEAD)), mine.id, "说明.pdf", PDF,
                                      task_id=mine.task("sign", LEAD)["id"])
    assert engine.items.read_attachment(_actor(engine, liaison(LEAD)), own)[2] == PDF


def test_an_attachment_whose_file_is_gone_is_not_found_not_a_crash(engine, tmp_path):
    from engine.errors import NotFound

    mine, _ = _two_items(engine)
    dispatcher = _actor(engine, "dispatcher")
    attachment = engine.items.add_attachment(dispatcher, mine.id, "说明.pdf", PDF)
    for path in (tmp_path / "attachments").rglob("*"):
        if path.is_file():
            path.unlink()
    with pytest.raises(NotFound, match="已不在存储目录"):
        engine.items.read_attachment(dispatcher, attachment)


def _draft(engine, instance_id: int | None) -> int:
    from datetime import date

    with engine.db.write() as session:
        return engine.circulars.draft_in(session, date(2026, 10, 1), date(2026, 10, 31), instance_id=instance_id).id


@pytest.mark.parametrize("operation", ["save_circular_text", "publish_circular"])
def test_a_circular_process_saves_and_publishes_only_its_own_draft(engine, operation):
    from datetime import UTC, datetime

    from engine.runtime.operations import OPERATIONS, OperationContext

    mine, other = _two_items(engine)  # any two instances: a draft remembers the one that drafted it
    own, foreign = _draft(engine, mine.id), _draft(engine, other.id)
    run = OPERATIONS[operation].run
    office = _actor(engine, "office")
    for circular_id in (foreign, 987654321, 2**63):
        with engine.db.write() as session, pytest.raises(ValidationFailed) as refused:
            run(OperationContext(session, office, mine.id, datetime.now(UTC), engine),
                {"circular_id": circular_id, "circular_text": "改写别的流程的通报" * 3})
        assert "circular_id" in refused.value.errors
    with engine.db.read() as session:
        untouched = session.get(Circular, foreign)
        assert (untouched.status, untouched.number, untouched.text.startswith("改写")) == ("draft", None, False)
    with engine.db.write() as session:
        run(OperationContext(session, office, mine.id, datetime.now(UTC), engine),
            {"circular_id": own, "circular_text": "本流程自己的通报定稿正文，二十个字以上。"})
