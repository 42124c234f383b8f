"""The forms that post an id beside the one in the URL: the task id of a comment or a file, the message
id of "mark read". An id of another item, or a value that is no id, is refused with a Chinese message
naming the field; nothing is stored and nothing else is marked."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from engine.storage.models import Attachment, Comment
from tests.helpers import Browser, Item, liaison, notify
from web import create_app

pytestmark = pytest.mark.sqlite_only
LEAD = "区科技局"


@pytest.fixture
def engine(database_url, make_engine, tmp_path):
    services = make_engine(database_url, attachment_dir=tmp_path / "attachments")
    yield services
    services.close()


@pytest.fixture
def lead(engine):
    b = Browser(create_app(services=engine, config={"TESTING": True}))
    assert b.login(liaison(LEAD)).status_code == 302
    b.get("/")
    return b


def _rows(engine, model) -> int:
    with engine.db.read() as session:
        return session.scalar(select(func.count(model.id)))


def _dispatched(engine) -> Item:
    item = Item(engine)
    item.accept()
    item.dispatch(LEAD)
    return item


@pytest.mark.parametrize("task_id", ["other", "abc", "-1", "99999999999999999999"])
def test_a_comment_with_a_task_id_not_of_this_item_is_refused(engine, lead, task_id):
    mine, other = _dispatched(engine), _dispatched(engine)
    posted = str(other.task("sign", LEAD)["id"]) if task_id == "other" else task_id
    page = lead.post(f"/items/{mine.id}/comments", {"text": "贴到别处", "task_id": posted}, follow_redirects=True)
    assert page.status_code == 200 and "「任务」" in page.get_data(as_text=True)
    upload = lead.post(f"/items/{mine.id}/attachments", {"task_id": posted,
                                                         "file": (io.BytesIO(b"%PDF-1.4"), "a.pdf")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "「任务」" in upload.get_data(as_text=True) and "附件已上传" not in upload.get_data(as_text=True)
    assert (_rows(engine, Comment), _rows(engine, Attachment)) == (0, 0)


def test_the_task_pages_own_comment_form_still_works(engine, lead):
    mine = _dispatched(engine)
    task = mine.task("sign", LEAD)["id"]
    lead.get(f"/tasks/{task}")
    lead.post(f"/items/{mine.id}/comments", {"text": "已联系企业", "task_id": str(task)})
    assert "已联系企业" in lead.get(f"/tasks/{task}").get_data(as_text=True)


def test_marking_a_bad_message_id_read_marks_nothing(engine, lead):
    notify(engine, "esc:one", [liaison(LEAD)])
    notify(engine, "esc:two", [liaison(LEAD)])
    engine.deliverer.deliver_due()
    unread = lead.get("/api/v1/notifications").get_json()["unread"]
    assert unread == 2
    for bad in ("abc", "99999999999999999999", "-1"):
        page = lead.post("/notifications/read", {"id": bad}, follow_redirects=True)
        assert "「消息」应为编号" in page.get_data(as_text=True)
    assert lead.get("/api/v1/notifications").get_json()["unread"] == 2  # before the fix: 0, all marked
    lead.post("/notifications/read", {})
    assert lead.get("/api/v1/notifications").get_json()["unread"] == 0
