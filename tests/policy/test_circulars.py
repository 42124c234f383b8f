"""Evaluation figures on a crafted month whose right answers are known, and the circular's cycle."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from docx import Document
from sqlalchemy import select

from engine.errors import Conflict
from engine.identity.org import get_user
from engine.policy.dispatch.figures import compute
from engine.policy.supervision.naming import named_in
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import Circular, InboxMessage
from tests.helpers import OCTOBER_CO, OCTOBER_LEAD, OCTOBER_WRONG, crafted_october, liaison

BJ = ZoneInfo("Asia/Shanghai")
LEAD, CO, WRONG = OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG  # the crafted month's


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def test_the_figures_of_a_crafted_month(zjtx):
    crafted_october(zjtx)
    from datetime import date

    with zjtx.db.read() as session:
        figures = compute(session, date(2026, 10, 1), date(2026, 10, 31), BJ)
    rows = {r["department"]: r for r in figures["table"]}
    lead = {k: rows[LEAD][k] for k in ("received", "returns", "extension_requests", "due", "closed", "closed_on_time",
                                       "on_time_rate", "overdue_now", "first_time_rate", "satisfaction_rate",
                                       "solved_rate", "not_visited", "warned", "urged", "supervised", "rank")}
    # 解决率: A 已解决, B 部分解决 (both 满意/基本满意): 1 of 2.
    assert lead == {"received": 2, "returns": 0, "extension_requests": 1, "due": 2, "closed": 2, "closed_on_time": 2,
                    "on_time_rate": 100.0, "overdue_now": 0, "first_time_rate": 50.0, "satisfaction_rate": 100.0,
                    "solved_rate": 50.0, "not_visited": 0, "warned": 0, "urged": 0, "supervised": 0, "rank": 1}
    co = rows[CO]
    assert (co["satisfaction_rate"], co["solved_rate"]) == (100.0, 100.0)  # C: 已解决, 满意
    assert (co["received"], co["due"], co["closed"], co["closed_on_time"], co["on_time_rate"]) == (2, 1, 1, 0, 0.0)
    assert (co["overdue_now"], co["first_time_rate"], co["urged"], co["supervised"], co["rank"]) == (1, 100.0, 1, 1, 2)
    assert (rows[WRONG]["received"], rows[WRONG]["returns"], rows[WRONG]["rank"]) == (1, 1, 3)
    assert figures["named_for_criticism"] == [CO]
    # Reproducible: computed again later, as of the same period end, the figures are the same.
    with time_machine.travel(at("2026-12-15 10:00"), tick=False), zjtx.db.read() as session:
        assert compute(session, date(2026, 10, 1), date(2026, 10, 31), BJ) == figures

    # The office closes D's 督办 (raised by the clock on 10-27) naming the unit, with a red slip: the circular
    # lists it, with the matter and the reason, beside the computed list (here the same unit).
    [supervision] = [t for t in zjtx.queries.tasks() if t["form"] == "supervision.schema.json"]
    assert (supervision["department"], supervision["business_key"]) == ("区经济信息委", "ZJTX-2026-00004")
    with time_machine.travel(at("2026-10-28 10:00"), tick=False):
        zjtx.workflows.complete(supervision["id"], {"slip_colour": "红", "supervision_result": "已约谈分管负责人，限期办结",
                                                    "name_in_circular": True}, "office")
    with time_machine.travel(at("2026-11-06 10:00"), tick=False), zjtx.db.write() as session:
        draft = zjtx.circulars.draft_in(session, date(2026, 10, 1), date(2026, 10, 31))
        named, text = draft.figures["named_by_office"], draft.text
        zjtx.circulars.publish_in(session, draft.id, "office")
        criticized = draft.figures["named_for_criticism"]
        november = named_in(session, date(2026, 11, 1), date(2026, 11, 30), BJ)
    assert named == [{"department": CO, "business_key": "ZJTX-2026-00004", "matter": "重庆黔江某精密制造有限公司：用地问题",
                      "reason": "已约谈分管负责人，限期办结", "colour": "红", "source": "督办", "day": "2026-10-28"}]
    assert criticized == [CO] and november == []  # the computed list, unchanged; November names nobody
    assert f"{CO}有事项经督办仍未按期办结，予以通报批评" in text
    assert "经领导小组办公室督办，对以下单位予以点名：\n1. 区财政局：ZJTX-2026-00004「重庆黔江某精密制造有限公司：用地问题」，" \
           "已约谈分管负责人，限期办结（红色督办单）。" in text
    with zjtx.db.read() as session:  # and its Word document
        word = "\n".join(p.text for p in Document(io.BytesIO(zjtx.circulars.docx(session.get(Circular, draft.id))))
                         .paragraphs)
    assert "1. 区财政局：ZJTX-2026-00004「重庆黔江某精密制造有限公司：用地问题」，已约谈分管负责人，限期办结（红色督办单）。" \
        in word


def confirm_figures(zjtx):
    """Every member unit in the circular's table confirms its row (the window before approval)."""
    for task in [t for t in zjtx.queries.tasks() if t["task"] == "check_figures"]:
        zjtx.workflows.complete(task["id"], {"check_result": "confirmed"}, liaison(task["department"]))


def inbox(zjtx, username):
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)))


@pytest.mark.sqlite_only
def test_the_monthly_circular_is_drafted_sent_back_approved_numbered_and_published(zjtx):
    crafted_october(zjtx)
    with time_machine.travel(at("2026-11-01 10:00"), tick=False) as clock:
        # The default schedule (set up with the bundled processes): 5th working day, the month before.
        [schedule] = [s for s in zjtx.schedules.list() if s["name"] == "月度通报"]
        zjtx.schedules.save(schedule["name"], schedule["process"], schedule["rule"], schedule["data"])
        clock.move_to(at("2026-11-06 09:00:01"))
        Scheduler(zjtx).run_until_idle()
        [draft] = [t for t in zjtx.queries.tasks() if t["task"] == "draft"]
        data = zjtx.queries.show(draft["instance_id"])["data"]
        assert "2026年10月1日至2026年10月31日" in data["circular_text"] and "区财政局有事项经督办" in data["circular_text"]
        assert "五、30 项措施推进情况" in data["circular_text"] and "尚无报告 30 项" in data["circular_text"]
        text = data["circular_text"] + "\n（经区经济信息委核定）"
        zjtx.workflows.complete(draft["id"], {"circular_text": text}, "dispatcher")
        confirm_figures(zjtx)  # each unit in the table checks its row (test_circular_objections)
        [approve] = [t for t in zjtx.queries.tasks() if t["task"] == "approve"]
        zjtx.workflows.complete(approve["id"], {"circular_approved": False, "approval_comment": "请补充目标进展"}, "office")
        [again] = [t for t in zjtx.queries.tasks() if t["task"] == "draft"]
        zjtx.workflows.complete(again["id"], {"circular_text": text + "\n目标进展见第五部分。"}, "dispatcher")
        [approve] = [t for t in zjtx.queries.tasks() if t["task"] == "approve"]
        zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
    shown = zjtx.queries.show(approve["instance_id"])
    assert shown["data"]["circular_number"] == "黔江专精特新通报〔2026〕1号" and shown["item_status"] == "已发布"
    [rectify] = [t for t in zjtx.queries.tasks() if t["task"] == "rectify"]
    assert rectify["department"] == CO
    assert any(t.startswith("【通报】黔江专精特新通报〔2026〕1号") for t in inbox(zjtx, liaison(CO)))
    assert any(t.startswith("【通报】") for t in inbox(zjtx, liaison("区统计局")))  # every member unit
    with zjtx.db.read() as session:
        circular = session.scalar(select(Circular))
    assert circular.status == "published" and circular.text.endswith("目标进展见第五部分。")
    document = Document(io.BytesIO(zjtx.circulars.docx(circular)))
    paragraphs = [p.text for p in document.paragraphs]
    assert "黔江专精特新通报〔2026〕1号" in paragraphs and any(p.startswith("关于2026年10月") for p in paragraphs)
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells][:4] == ["名次", "单位", "收到交办", "应办结"]
    assert [c.text for c in table.rows[1].cells][:2] == ["1", LEAD]
    with zjtx.db.write() as session, pytest.raises(Conflict):
        zjtx.circulars.save_text_in(session, circular.id, "改动")
    with zjtx.db.write() as session, pytest.raises(Conflict):
        zjtx.circulars.publish_in(session, circular.id, "office")


@pytest.mark.sqlite_only
def test_the_archive_the_printable_page_and_the_word_document(zjtx):
    from tests.helpers import Browser
    from web import create_app

    crafted_october(zjtx)
    with time_machine.travel(at("2026-11-06 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
    app = create_app(services=zjtx, config={"TESTING": True})
    member = Browser(app)
    member.login(liaison(CO))
    assert "2026年10月" not in member.get("/circulars/").get_data(as_text=True)  # drafts are not public
    office = Browser(app)
    office.login("office")
    listing = office.get("/circulars/").get_data(as_text=True)
    assert "草稿" in listing and "关于2026年10月" in listing
    [draft] = [t for t in zjtx.queries.tasks() if t["task"] == "draft"]
    dispatcher = Browser(app)
    dispatcher.login("dispatcher")
    form = dispatcher.get(f"/tasks/{draft['id']}").get_data(as_text=True)
    assert "一、总体情况" in form  # the generated draft fills the text box
    with time_machine.travel(at("2026-11-06 11:00"), tick=False):
        zjtx.workflows.complete(draft["id"], {"circular_text": zjtx.queries.show(started["id"])["data"]
                                              ["circular_text"]}, "dispatcher")
        confirm_figures(zjtx)
        [approve] = [t for t in zjtx.queries.tasks() if t["task"] == "approve"]
        zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
    circular_id = zjtx.queries.show(started["id"])["data"]["circular_id"]
    page = member.get(f"/circulars/{circular_id}").get_data(as_text=True)
    assert "黔江专精特新通报〔2026〕1号" in page and "附表：各单位办理情况" in page and "print.css" in page
    word = member.client.get(f"/circulars/{circular_id}.docx")
    assert word.status_code == 200 and "黔江专精特新通报〔2026〕1号" in [
        p.text for p in Document(io.BytesIO(word.data)).paragraphs]
