"""The administrator finds a user by user name, Chinese name or mobile number, and by department; paged."""
from __future__ import annotations

import re

import pytest

from engine.identity.authz import actor_for
from tests.helpers import Browser, head, liaison
from web import create_app

pytestmark = pytest.mark.sqlite_only


def listed(zjtx, url: str) -> list[str]:
    browser = Browser(create_app(services=zjtx, config={"TESTING": True}))
    assert browser.login("admin").status_code == 302
    response = browser.get(url)
    assert response.status_code == 200
    return re.findall(r'<td data-label="用户名"><a href="/admin/users/\d+">([^<]+)</a>', response.get_data(as_text=True))


def test_search_by_user_name_chinese_name_and_department(zjtx):
    assert listed(zjtx, "/admin/?q=dispatcher") == ["dispatcher"]
    assert listed(zjtx, "/admin/?q=服务专员") == ["officer"]
    by_department = listed(zjtx, "/admin/?department=区科技局")
    assert sorted(by_department) == sorted([head("区科技局"), liaison("区科技局"), "science_tech_bureau_handler"])
    assert listed(zjtx, "/admin/?q=联络员&department=区科技局") == [liaison("区科技局")]
    assert listed(zjtx, "/admin/?department=没有这个部门") == []


def test_search_by_mobile_and_no_match_says_what_to_do(zjtx):
    with zjtx.db.read() as session:
        admin = actor_for(session, "admin")
    user = zjtx.identity.search_users(admin, "officer")["users"][0]
    zjtx.identity.save_user(admin, {**user, "mobile": "13800138000", "password": ""}, user["id"])
    assert listed(zjtx, "/admin/?q=1380013") == ["officer"]
    browser = Browser(create_app(services=zjtx, config={"TESTING": True}))
    browser.login("admin")
    html = browser.get("/admin/?q=%25").get_data(as_text=True)  # a LIKE wildcard is a plain character
    assert "没有符合条件的用户" in html and "新建用户" in html


def test_the_list_is_paged(zjtx):
    with zjtx.db.read() as session:
        admin = actor_for(session, "admin")
    first = zjtx.identity.search_users(admin, "", "", 1)
    second = zjtx.identity.search_users(admin, "", "", 2)
    assert len(first["users"]) == 30 and first["has_next"]
    assert not {u["id"] for u in first["users"]} & {u["id"] for u in second["users"]}
    assert len(listed(zjtx, "/admin/?page=2")) == len(second["users"])
