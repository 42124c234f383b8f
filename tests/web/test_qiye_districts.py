"""The enterprise portal for a whole city (issue 20): one /qiye for every district. Before sign-in nothing says
whose a request is: an invitation is found by its token, a sign-in by the contact's mobile or email (or the
所在区县 they choose, which they must when the address is a contact's in two districts), a registration by the
enterprise's credit code — each then worked in that district, and the session stays there."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from engine.identity.authz import actor_for
from engine.policy.portal import EnterpriseAccounts
from engine.storage import district
from tests.helpers import (
    INVITE_LINK,
    LOGIN_CODE,
    RECORD,
    YEARS,
    Browser,
    newest_to,
    queue_email,
    register,
    uscc,
)

pytestmark = pytest.mark.sqlite_only  # the pages; the portal's storage is tested on both (tests/policy/)
PENGSHUI = uscc("91500243MA5U8PXX1")
MAIL = "liu.manager@example.com"


@pytest.fixture
def county(zjtx):
    """彭水县 (ps_ accounts) with an enterprise of its own in its library."""
    county = zjtx.create_district("500243", "彭水县", demo_prefix="ps_")
    with district.scope(county):
        with zjtx.db.read() as session:
            dispatcher = actor_for(session, "ps_dispatcher")
        zjtx.enterprises.save(dispatcher, {**RECORD, "name": "彭水某食品有限公司", "uscc": PENGSHUI, "industry": "批发业",
                                           "tier": "无", "tier_since": None, "service_officer": "ps_officer"},
                              years=YEARS)
    queue_email(zjtx)
    return county


def _invite(zjtx, county: int, email: str = MAIL) -> str:
    with district.scope(county):
        from sqlalchemy import select

        from engine.storage.models import Enterprise

        with zjtx.db.read() as session:
            enterprise_id = session.scalar(select(Enterprise.id).where(Enterprise.uscc == PENGSHUI))
        EnterpriseAccounts.of(zjtx).invite("ps_officer", enterprise_id, {"contact_name": "刘经理", "email": email})
        return newest_to(zjtx, email, INVITE_LINK)


def _code(zjtx, county: int, email: str = MAIL) -> str:
    with district.scope(county):
        return newest_to(zjtx, email, LOGIN_CODE)


def test_a_countys_contact_is_invited_signs_in_and_works_in_the_county(app, zjtx, county):
    token = _invite(zjtx, county)
    client = Browser(app)
    assert "彭水某食品有限公司" in client.get(f"/qiye/invite/{token}").get_data(as_text=True)
    assert client.post(f"/qiye/invite/{token}").status_code == 302
    assert "重庆专精特新 · 企业服务" in client.get("/qiye/login").get_data(as_text=True)  # the city's portal
    assert client.post("/qiye/login", {"identifier": MAIL}).status_code == 302
    assert client.post("/qiye/login/code", {"code": _code(zjtx, county)}).status_code == 302
    home = client.get("/qiye/").get_data(as_text=True)
    assert "彭水某食品有限公司" in home and "刘经理" in home and "彭水专精特新 · 企业服务" in home
    client.post("/qiye/logout")
    client.get("/qiye/login")  # the password form finds the county's contact too (none set: refused, generic)
    refused = client.post("/qiye/login/password", {"identifier": MAIL, "password": "whatever-long"})
    assert refused.status_code == 401 and "手机号/邮箱或密码错误" in refused.get_data(as_text=True)


def test_a_countys_enterprise_registers_and_its_own_officer_is_told(app, zjtx, county):
    client = Browser(app)
    client.get("/qiye/register")
    done = client.post("/qiye/register", {"uscc": PENGSHUI, "enterprise_name": "彭水某食品有限公司",
                                          "contact_name": "刘经理", "mobile": "13900002222"})
    assert done.status_code == 200 and "注册申请已提交" in done.get_data(as_text=True)
    with district.scope(county):
        assert [p["enterprise_name"] for p in EnterpriseAccounts.of(zjtx).pending("ps_officer")] == ["彭水某食品有限公司"]
    assert EnterpriseAccounts.of(zjtx).pending("officer") == []


def test_a_contact_of_two_districts_chooses_and_an_unknown_district_is_named(app, zjtx, county):
    EnterpriseAccounts.of(zjtx).invite("officer", register(zjtx), {"contact_name": "刘经理", "email": MAIL})
    for token in (newest_to(zjtx, MAIL, INVITE_LINK), _invite(zjtx, county)):
        Browser(app).post(f"/qiye/invite/{token}")
    client = Browser(app)
    page = client.get("/qiye/login").get_data(as_text=True)
    assert '<option value="500243"' in page and "按手机号或邮箱自动识别" in page
    asked = client.post("/qiye/login", {"identifier": MAIL})
    assert asked.status_code == 400 and "请选择企业所在的区县" in asked.get_data(as_text=True)
    wrong = client.post("/qiye/login", {"identifier": MAIL, "district": "500999"})
    assert wrong.status_code == 400 and "「所在区县」500999 不是本系统的区县" in wrong.get_data(as_text=True)
    assert client.post("/qiye/login", {"identifier": MAIL, "district": "500243"}).status_code == 302
    assert client.post("/qiye/login/code", {"code": _code(zjtx, county)}).status_code == 302
    assert "彭水某食品有限公司" in client.get("/qiye/").get_data(as_text=True)
    with time_machine.travel(timedelta(minutes=2)):  # past the one-code-a-minute limit of the address
        other = Browser(app)
        other.get("/qiye/login")
        assert other.post("/qiye/login", {"identifier": MAIL, "district": "500114"}).status_code == 302
        assert other.post("/qiye/login/code", {"code": newest_to(zjtx, MAIL, LOGIN_CODE)}).status_code == 302
        assert "重庆黔江某精密制造有限公司" in other.get("/qiye/").get_data(as_text=True)
