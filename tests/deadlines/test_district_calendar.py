"""A district's own calendar days (issue 20): the national calendar is shared, a district's administrators change a
day for their district only (a local 调休 notice), and only the city imports the national arrangement."""
from __future__ import annotations

import json
from datetime import date

import pytest

from engine.deadlines.calendar_store import calendar_of
from engine.errors import PermissionDenied
from engine.identity.accounts import actor_by_id
from engine.identity.districts import CITY_CODE, CITY_NAME
from engine.identity.org import get_user
from engine.storage import district
from tests.helpers import REGISTRATION, Browser

LOCAL_HOLIDAY = date(2026, 11, 5)  # a Thursday: the day after the fixed 2026-11-04, a sign deadline's day
NOTICE = {"year": 2027, "source": "国办发明电〔2026〕1号",
          "holidays": [{"start": "2027-01-01", "end": "2027-01-01", "name": "元旦"}], "workdays": []}


def actor(zjtx, district_id: int, username: str):
    with district.scope(district_id), zjtx.db.read() as session:
        return actor_by_id(session, get_user(session, username).id)


def due_in(zjtx, prefix: str) -> str:
    """The lead's deadline to sign for an item its district dispatches today (one working day)."""
    who = f"{prefix}dispatcher"
    started = zjtx.workflows.start("problem_dispatch", dict(REGISTRATION), actor=who)
    for data in ({"triage_decision": "accept"},
                 {"lead_department": "区科技局", "lead_due_working_days": 5, "co_handlers": []}):
        task = zjtx.queries.tasks(instance_id=started["id"])[0]
        result = zjtx.workflows.complete(task["id"], data, who)
    return result["instance"]["open_tasks"][0]["due_at"]


@pytest.fixture
def county(zjtx, clock):
    return zjtx.create_district("500243", "彭水县", demo_prefix="ps_")


def test_a_districts_own_day_changes_its_deadlines_only(zjtx, county):
    before = due_in(zjtx, "")
    with district.scope(county):
        theirs_before = due_in(zjtx, "ps_")
    zjtx.calendars.set_day(actor(zjtx, district.FIRST_DISTRICT, "admin"), LOCAL_HOLIDAY, False, "黔江区调休")
    with zjtx.db.read() as session:
        assert not calendar_of(session).is_workday(LOCAL_HOLIDAY)
    with district.scope(county), zjtx.db.read() as session:
        assert calendar_of(session).is_workday(LOCAL_HOLIDAY)
    after = due_in(zjtx, "")
    assert after[:10] == "2026-11-06" and before[:10] == "2026-11-05"
    with district.scope(county):
        assert due_in(zjtx, "ps_")[:10] == theirs_before[:10] == "2026-11-05"
        assert LOCAL_HOLIDAY not in {d.day for d in zjtx.calendars.days(actor(zjtx, county, "ps_admin"))}
    days = zjtx.calendars.days(actor(zjtx, district.FIRST_DISTRICT, "admin"))
    assert [(d.day, d.own, d.source) for d in days if d.day == LOCAL_HOLIDAY] == [(LOCAL_HOLIDAY, True, "本区县调整")]
    assert zjtx.calendars.clear_day(actor(zjtx, district.FIRST_DISTRICT, "admin"), LOCAL_HOLIDAY)
    assert due_in(zjtx, "")[:10] == "2026-11-05"


def test_only_the_city_imports_the_national_arrangement_every_district_shares(zjtx, county):
    notice = json.dumps(NOTICE).encode()
    local_admin = actor(zjtx, district.FIRST_DISTRICT, "admin")
    assert zjtx.calendars.may_import(local_admin)  # no city in the deployment: its district's administrators
    city = zjtx.create_district(CITY_CODE, CITY_NAME, demo_prefix="cq_")
    assert not zjtx.calendars.may_import(local_admin)
    with pytest.raises(PermissionDenied, match="重庆市本级管理员"):
        zjtx.calendars.import_notice(local_admin, notice, "notice.json")
    with district.scope(city):
        zjtx.calendars.import_notice(actor(zjtx, city, "cq_admin"), notice, "notice.json")
    for where in (district.FIRST_DISTRICT, county):
        with district.scope(where), zjtx.db.read() as session:
            assert not calendar_of(session).is_workday(date(2027, 1, 1))
            assert calendar_of(session).is_confirmed(2027)


def test_the_calendar_page_says_whose_day_it_is(zjtx, county):
    from web import create_app

    zjtx.create_district(CITY_CODE, CITY_NAME, demo_prefix="cq_")
    app = create_app(services=zjtx, config={"TESTING": True})
    b = Browser.signed_in(app, "ps_admin")
    page = b.get("/admin/calendar").get_data(as_text=True)
    assert "由重庆市本级管理员导入" in page and 'value="import"' not in page and "调整某一天（仅彭水县）" in page
    refused = b.post("/admin/calendar", {"action": "import"})
    assert refused.status_code == 400 and "由重庆市本级管理员导入" in refused.get_data(as_text=True)
    b.post("/admin/calendar", {"action": "set", "day": "2026-11-05", "kind": "holiday", "name": "彭水县调休"})
    page = b.get("/admin/calendar").get_data(as_text=True)
    assert "彭水县调休" in page and "彭水县调整" in page and "恢复全国安排" in page
    assert "彭水县调休" not in Browser.signed_in(app, "admin").get("/admin/calendar").get_data(as_text=True)
    b.post("/admin/calendar", {"action": "clear", "day": "2026-11-05"})
    assert "彭水县调休" not in b.get("/admin/calendar").get_data(as_text=True)
    bad = b.post("/admin/calendar", {"action": "set", "day": "11月5日"})
    assert bad.status_code == 400 and "「日期」格式应为 YYYY-MM-DD" in bad.get_data(as_text=True)
    city_page = Browser.signed_in(app, "cq_admin").get("/admin/calendar").get_data(as_text=True)
    assert 'value="import"' in city_page

