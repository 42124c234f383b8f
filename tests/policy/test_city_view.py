"""全市情况 (issue 20): 市经济信息委 sees every district side by side, each district's figures equal to that district's
own circular for the same period; nobody else sees across districts."""
from __future__ import annotations

from datetime import date

import pytest

from engine.errors import PermissionDenied
from engine.identity.authz import Actor
from engine.identity.org import get_user
from engine.storage import district
from tests.helpers import REGISTRATION, Browser, liaison

PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
LEAD, CO = "区科技局", "区商务委"


def _walk(zjtx, prefix: str, lead: str, sign: bool) -> int:
    """An item of the district (its dispatcher registers, accepts and dispatches it); its lead signs if ``sign``."""
    who = f"{prefix}dispatcher"
    started = zjtx.workflows.start("problem_dispatch", dict(REGISTRATION), actor=who)
    for data in ({"triage_decision": "accept"}, {"lead_department": lead, "lead_due_working_days": 5,
                                                 "co_handlers": [{"department": CO, "due_working_days": 3}]}):
        task = zjtx.queries.tasks(instance_id=started["id"])[0]
        zjtx.workflows.complete(task["id"], data, who)
    if sign:
        task = next(t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "sign")
        zjtx.workflows.complete(task["id"], {"sign_decision": "sign"}, f"{prefix}{liaison(lead)}")
    return started["id"]


def _actor(zjtx, district_id: int, username: str) -> Actor:
    from engine.identity.accounts import actor_by_id

    with district.scope(district_id), zjtx.db.read() as session:
        return actor_by_id(session, get_user(session, username).id)


@pytest.fixture
def city(zjtx, clock):
    """重庆市 (with its demo accounts cq_…), 黔江区 with three items and 彭水县 (units renamed 县…) with one."""
    city_id = zjtx.create_district("500000", "重庆市", demo_prefix="cq_")
    county = zjtx.create_district("500243", "彭水县", full_name="重庆市彭水苗族土家族自治县", demo_prefix="ps_")
    for sign in (True, True, False):
        _walk(zjtx, "", LEAD, sign)
    with district.scope(county):
        _walk(zjtx, "ps_", LEAD, True)
    return city_id, county


def _own_circular(zjtx, district_id: int) -> dict:
    """The figures the district's own circular would carry for the period (drafted, then rolled back)."""
    with district.scope(district_id), zjtx.db.read() as session:
        return zjtx.circulars.draft_in(session, *PERIOD).figures


def test_each_districts_figures_are_its_own_circulars(zjtx, city):
    city_id, _ = city
    view = zjtx.city.overview(_actor(zjtx, city_id, "cq_dispatcher"), *PERIOD)
    assert [(d["code"], d["name"]) for d in view["districts"]] == [("500114", "黔江区"), ("500243", "彭水县")]
    for row in view["districts"]:
        own = _own_circular(zjtx, row["id"])
        assert row["table"] == own["table"], row["name"]
        assert row["named_for_criticism"] == own["named_for_criticism"]
        assert row["goals"] == own["goals"]
        assert row["totals"]["received"] == sum(r["received"] for r in own["table"])
    qianjiang, pengshui = view["districts"]
    assert qianjiang["totals"]["received"] == 6 and pengshui["totals"]["received"] == 2  # lead and co each
    assert {r["department"] for r in pengshui["table"]} == {"县科技局", "县商务委"}


def test_only_the_citys_central_roles_see_across_districts(zjtx, city):
    city_id, county = city
    for district_id, username in ((district.FIRST_DISTRICT, "dispatcher"), (district.FIRST_DISTRICT, "admin"),
                                  (county, "ps_office"), (city_id, f"cq_{liaison(LEAD)}")):
        with pytest.raises(PermissionDenied):
            zjtx.city.overview(_actor(zjtx, district_id, username), *PERIOD)
    assert zjtx.city.is_city(_actor(zjtx, city_id, "cq_office"))


def test_the_city_page_shows_the_districts_side_by_side_and_only_to_the_city(zjtx, city):
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})
    officer = Browser.signed_in(app, "cq_dispatcher")
    page = officer.get("/city/?month=2026-11")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "黔江区" in text and "彭水县" in text and "全市情况" in text and "重庆市“专精特新”" in text
    assert 'data-district="500114" data-figure="received">6<' in text
    assert 'data-district="500243" data-figure="received">2<' in text
    wrong = officer.get("/city/?month=11月")
    assert wrong.status_code == 200 and "「月份」11月 不是有效的月份" in wrong.get_data(as_text=True)
    for username in ("dispatcher", "admin"):
        local = Browser.signed_in(app, username)
        assert local.get("/city/").status_code == 403
        assert "全市情况" not in local.get("/").get_data(as_text=True)
    assert "全市情况" in officer.get("/").get_data(as_text=True)
