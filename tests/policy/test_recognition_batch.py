"""推荐申报: a yearly batch in which two industry departments propose pool enterprises, 区经济信息委 recommends
them to the city, one is recognised and one not; the recognition in the registry and the goals; the expiry
reminder six months before it ends, sent once."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.identity.authz import actor_for
from engine.identity.org import get_user
from engine.policy.pool.goals import goals_in
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import Enterprise, EnterpriseChange, InboxMessage
from tests.helpers import RECORD, YEARS, Browser, liaison, uscc
from web import create_app

pytestmark = pytest.mark.usefixtures("clock")
BJ = ZoneInfo("Asia/Shanghai")
COMMERCE, TRANSPORT = "区商务委", "区交通局"
WHOLESALER, CARRIER, OUTSIDER = uscc("91500114MA5U8R017"), uscc("91500114MA5U8R025"), uscc("91500114MA5U8R033")


def enterprise(zjtx, code: str, name: str, industry: str, in_pool: bool) -> None:
    """An enterprise in the registry (saved by the dispatcher); ``in_pool`` as an admission leaves it."""
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    enterprise_id = zjtx.enterprises.save(dispatcher, {**RECORD, "uscc": code, "name": name, "industry": industry,
                                                       "tier": "无", "tier_since": None, "tier_valid_until": None},
                                          years=YEARS)
    if in_pool:
        with zjtx.db.write() as session:
            row = session.get(Enterprise, enterprise_id)
            row.in_pool, row.pool_since = True, date(2026, 5, 1)
            session.add(EnterpriseChange(enterprise_id=row.id, actor="system", source="admission",
                                         at=datetime(2026, 5, 1, tzinfo=BJ), changes={"in_pool": [False, True]}))


def task(zjtx, instance_id: int, bpmn_id: str, department: str | None = None) -> dict:
    [found] = [t for t in zjtx.queries.tasks(instance_id=instance_id)
               if t["task"] == bpmn_id and (department is None or t["department"] == department)]
    return found


def specialized_goal(zjtx, day: date) -> int:
    with zjtx.db.read() as session:
        return next(g["actual"] for g in goals_in(session, day, BJ) if g["goal"].startswith("到2025年市级"))


def inbox(zjtx, username: str) -> list[str]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)))


def registry_row(zjtx, code: str) -> Enterprise:
    with zjtx.db.read() as session:
        return session.scalar(select(Enterprise).where(Enterprise.uscc == code))


def run_batch(zjtx) -> int:
    """Open the 2026 batch, the two departments propose, 区经济信息委 recommends both to the city."""
    enterprise(zjtx, WHOLESALER, "黔江某商贸有限公司", "批发业", True)
    enterprise(zjtx, CARRIER, "黔江某物流有限公司", "交通运输业", True)
    enterprise(zjtx, OUTSIDER, "黔江某未入库有限公司", "批发业", False)
    started = zjtx.workflows.start("recognition_batch", {"tier": "specialized", "batch_year": 2026,
                                                         "proposal_deadline": "2026-11-20"}, actor="dispatcher")
    instance_id = started["id"]
    proposals = {t["department"] for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == "propose"}
    assert proposals == {COMMERCE, TRANSPORT}
    commerce = task(zjtx, instance_id, "propose", COMMERCE)
    with pytest.raises(ValidationFailed) as refused:
        zjtx.workflows.complete(commerce["id"], {"proposals": [{"enterprise_uscc": OUTSIDER, "reason": "成长性好"}]},
                                liaison(COMMERCE))
    assert refused.value.errors["proposals"].startswith("「黔江某未入库有限公司」未入培育库")  # named, and why
    zjtx.workflows.complete(commerce["id"], {"proposals": [{"enterprise_uscc": WHOLESALER, "reason": "细分市场领先"}]},
                            liaison(COMMERCE))
    zjtx.workflows.complete(task(zjtx, instance_id, "propose", TRANSPORT)["id"],
                            {"proposals": [{"enterprise_uscc": CARRIER, "reason": "冷链物流特色"}]}, liaison(TRANSPORT))
    shown = zjtx.queries.show(instance_id)
    assert shown["item_status"] == "审核推荐"
    assert sorted(c["enterprise_uscc"] for c in shown["data"]["candidates"]) == sorted([WHOLESALER, CARRIER])
    zjtx.workflows.complete(task(zjtx, instance_id, "review")["id"],
                            {"recommended": [WHOLESALER, CARRIER], "materials": ["申报书", "营业执照"]}, "dispatcher")
    assert zjtx.queries.show(instance_id)["item_status"] == "已推荐至市级"
    return instance_id


def test_a_batch_ends_with_one_recognised_and_one_not_in_the_registry_and_the_goals(zjtx):
    instance_id = run_batch(zjtx)
    outcome = task(zjtx, instance_id, "record_outcomes")
    with pytest.raises(ValidationFailed) as refused:  # every recommended enterprise has its outcome
        zjtx.workflows.complete(outcome["id"], {"outcomes": [
            {"enterprise_uscc": WHOLESALER, "recognised": True, "recognised_on": "2026-11-04"}]}, "dispatcher")
    assert "outcomes" in refused.value.errors
    before = specialized_goal(zjtx, date(2026, 11, 3))
    zjtx.workflows.complete(outcome["id"], {"outcomes": [
        {"enterprise_uscc": WHOLESALER, "recognised": True, "recognised_on": "2026-11-04"},
        {"enterprise_uscc": CARRIER, "recognised": False, "city_reason": "细分领域市场占有率未达标准"}]}, "dispatcher")
    shown = zjtx.queries.show(instance_id)
    assert (shown["status"], shown["item_status"]) == ("completed", "已登记认定结果")
    audited = {h["data"]["enterprise"]: h["data"]["recognised"] for h in shown["history"]
               if h["action"] == "recognition_recorded"}
    assert audited == {WHOLESALER: True, CARRIER: False}
    recognised, refused_one = registry_row(zjtx, WHOLESALER), registry_row(zjtx, CARRIER)
    assert (recognised.tier, recognised.tier_since, recognised.tier_valid_until) == (
        "specialized", date(2026, 11, 4), date(2029, 11, 3))  # the default 3 years
    assert (refused_one.tier, refused_one.tier_valid_until) == ("none", None)
    history = zjtx.enterprises.get(recognised.id)["history"]
    assert history[0]["source"] == "recognition" and history[0]["changes"]["tier"] == ["none", "specialized"]
    assert specialized_goal(zjtx, date(2026, 11, 3)) == before == 0
    assert specialized_goal(zjtx, date(2026, 11, 4)) == 1
    assert specialized_goal(zjtx, date(2029, 11, 4)) == 0  # expired
    titles = inbox(zjtx, "officer")
    assert any("【推荐申报】黔江某商贸有限公司" in t and "已认定" in t for t in titles)
    assert any("【推荐申报】黔江某物流有限公司" in t and "未获认定" in t for t in titles)


def test_the_service_officer_is_reminded_once_six_months_before_a_recognition_ends(zjtx, clock):
    instance_id = run_batch(zjtx)
    zjtx.workflows.complete(task(zjtx, instance_id, "record_outcomes")["id"], {"outcomes": [
        {"enterprise_uscc": WHOLESALER, "recognised": True, "recognised_on": "2026-11-04", "valid_until": "2029-11-30"},
        {"enterprise_uscc": CARRIER, "recognised": False, "city_reason": "材料不全"}]}, "dispatcher")

    def reminders() -> list[str]:
        return [t for t in inbox(zjtx, "officer") if t.startswith("【认定到期提醒】")]

    clock.move_to(datetime(2029, 5, 29, 10, 0, tzinfo=BJ))  # six months before is 05-30
    Scheduler(zjtx).run_until_idle()
    assert reminders() == []
    clock.move_to(datetime(2029, 5, 30, 9, 0, tzinfo=BJ))
    Scheduler(zjtx).run_until_idle()
    assert reminders() == ["【认定到期提醒】黔江某商贸有限公司：市级专精特新中小企业认定将于 2029-11-30 到期"]
    clock.shift(timedelta(days=30))
    Scheduler(zjtx).run_until_idle()
    assert len(reminders()) == 1
    assert registry_row(zjtx, WHOLESALER).tier_reminded_for == date(2029, 11, 30)


def test_the_recommendation_list_is_an_excel_workbook_for_the_commission(zjtx):
    instance_id = run_batch(zjtx)
    app = create_app(services=zjtx, config={"TESTING": True})
    dispatcher, outsider = Browser(app), Browser(app)
    dispatcher.login("dispatcher")
    outsider.login(liaison(COMMERCE))
    assert outsider.client.get(f"/recognition/{instance_id}/list.xlsx").status_code == 403
    response = dispatcher.client.get(f"/recognition/{instance_id}/list.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    rows = list(book["推荐名单"].iter_rows(values_only=True))
    assert rows[0][0] == "2026年度黔江区市级专精特新中小企业推荐名单"
    assert sorted((r[1], r[2], r[4], r[5]) for r in rows[2:]) == [
        ("黔江某商贸有限公司", WHOLESALER, COMMERCE, "细分市场领先"), ("黔江某物流有限公司", CARRIER, TRANSPORT, "冷链物流特色")]
    assert [r[0] for r in book["申报材料清单"].iter_rows(min_row=2, values_only=True)] == ["申报书", "营业执照"]


def test_a_little_giant_batch_takes_only_valid_city_level_specialized_enterprises(zjtx):
    enterprise(zjtx, WHOLESALER, "黔江某商贸有限公司", "批发业", True)
    enterprise(zjtx, OUTSIDER, "黔江某精密有限公司", "批发业", True)
    with zjtx.db.write() as session:  # the wholesaler is a 市级专精特新 until 2028; the other's ended in 2025
        for code, until in ((WHOLESALER, date(2028, 6, 30)), (OUTSIDER, date(2025, 6, 30))):
            row = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
            row.tier, row.tier_since, row.tier_valid_until = "specialized", date(2022, 7, 1), until
    started = zjtx.workflows.start("recognition_batch", {"tier": "little_giant", "batch_year": 2026,
                                                         "proposal_deadline": "2026-11-20"}, actor="dispatcher")
    commerce = task(zjtx, started["id"], "propose", COMMERCE)
    with pytest.raises(ValidationFailed) as refused:
        zjtx.workflows.complete(commerce["id"], {"proposals": [{"enterprise_uscc": WHOLESALER, "reason": "细分领先"},
                                                               {"enterprise_uscc": OUTSIDER, "reason": "专利多"}]},
                                liaison(COMMERCE))
    message = refused.value.errors["proposals"]
    assert "「黔江某精密有限公司」不是有效期内的市级专精特新中小企业" in message and "黔江某商贸" not in message
    zjtx.workflows.complete(commerce["id"], {"proposals": [{"enterprise_uscc": WHOLESALER, "reason": "细分领先"}]},
                            liaison(COMMERCE))
    assert zjtx.queries.show(started["id"])["item_status"] == "审核推荐"
