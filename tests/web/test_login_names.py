"""Logging in by user name (any case), Chinese name or mobile number; the limits follow the account
whatever names it (engine/identity/accounts.py find_account, throttle.py)."""
from __future__ import annotations

import statistics
import time

import pytest
from sqlalchemy import select

from engine.identity import throttle
from engine.identity.authz import actor_for
from engine.identity.org import DEMO_PASSWORD
from engine.storage.models import LoginAttempt, User
from tests.helpers import Browser

pytestmark = pytest.mark.sqlite_only



def attempt(app, identifier, password=DEMO_PASSWORD, ip="10.1.1.1"):
    b = Browser(app)
    b.get("/login")
    return b.client.post("/login", data={"csrf_token": b.token, "username": identifier, "password": password},
                         environ_base={"REMOTE_ADDR": ip})


def mobile_of(zjtx, username) -> str:
    with zjtx.db.read() as session:
        return session.scalar(select(User.mobile).where(User.username == username))


def test_the_login_page_says_what_may_be_entered(app):
    assert "用户名 / 姓名 / 手机号" in Browser(app).get("/login").get_data(as_text=True)


def test_the_seeded_users_have_mobile_numbers(zjtx):
    with zjtx.db.read() as session:
        mobiles = list(session.scalars(select(User.mobile)))
    assert all(m and len(m) == 11 and m.startswith("138") for m in mobiles) and len(set(mobiles)) == len(mobiles)


@pytest.mark.parametrize("identifier", ["OFFICE", "Office", "领导小组办公室", "mobile", "mobile-spaced", "+86"])
def test_one_account_by_any_of_its_names(app, zjtx, identifier):
    mobile = mobile_of(zjtx, "office")
    identifier = {"mobile": mobile, "mobile-spaced": f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}",
                  "+86": f"+86{mobile}"}.get(identifier, identifier)
    response = attempt(app, identifier)
    assert response.status_code == 302
    with zjtx.db.read() as session:
        assert session.scalars(select(LoginAttempt.username).order_by(LoginAttempt.id.desc())).first() == "office"


def test_a_shared_chinese_name_asks_for_the_user_name(app, zjtx):
    with zjtx.db.write() as session:
        admin = actor_for(session, "admin")
    zjtx.identity.save_user(admin, {"username": "office2", "display_name": "领导小组办公室", "department": "区经济信息委",
                                    "roles": ["leading_group_office"], "password": "another-password"})
    for password in (DEMO_PASSWORD, "wrong-password"):  # the same answer whatever the password
        refused = attempt(app, "领导小组办公室", password)
        page = refused.get_data(as_text=True)
        assert refused.status_code == 401 and "有多位用户使用这个姓名，请改用用户名或手机号登录" in page
        assert "office2" not in page and "office<" not in page
    assert attempt(app, "office").status_code == 302 and attempt(app, "office2", "another-password").status_code == 302


def test_switching_names_does_not_escape_the_limits(app, zjtx, clock):
    mobile = mobile_of(zjtx, "office")
    for identifier in ["office", "OFFICE", "领导小组办公室"][:throttle.FREE_FAILURES]:
        assert attempt(app, identifier, "wrong").status_code == 401
    for identifier in (mobile, "Office", "领导小组办公室"):  # every name of the account now waits
        refused = attempt(app, identifier)
        assert refused.status_code == 401 and "秒后再试" in refused.get_data(as_text=True)


def test_unknown_names_cost_a_password_check_too(app, zjtx):
    def timed(identifier) -> float:
        started = time.perf_counter()
        assert attempt(app, identifier, "wrong-password", ip=f"10.2.{len(identifier)}.{int(started) % 200}") \
            .status_code == 401
        return time.perf_counter() - started

    attempt(app, "nobody-warms-the-dummy-hash", "x")
    known = statistics.median(timed("office") for _ in range(3))
    unknown = statistics.median(timed(name) for name in ("nobody", "无此人", "13999999999"))
    assert unknown > known * 0.5


def test_the_administrator_sets_a_mobile_number_with_checks(app, zjtx):
    b = Browser(app)
    assert b.login("admin").status_code == 302
    with zjtx.db.read() as session:
        user = session.scalar(select(User).where(User.username == "officer"))
        user_id, department = user.id, user.department.name
    form = {"display_name": "服务专员", "email": "", "department": department, "roles": ["service_officer"],
            "active": "on"}
    b.get(f"/admin/users/{user_id}")
    bad = b.post(f"/admin/users/{user_id}", {**form, "mobile": "12345"})
    assert bad.status_code == 400 and "「手机号」应为 11 位数字" in bad.get_data(as_text=True)
    taken = b.post(f"/admin/users/{user_id}", {**form, "mobile": mobile_of(zjtx, "office")})
    assert taken.status_code == 400 and "已是用户「领导小组办公室（office）」的手机号" in taken.get_data(as_text=True)
    assert mobile_of(zjtx, "officer") != mobile_of(zjtx, "office")  # nothing saved
    assert b.post(f"/admin/users/{user_id}", {**form, "mobile": "139 0000 1234"}).status_code == 302
    assert mobile_of(zjtx, "officer") == "13900001234"
    assert 'value="13900001234"' in b.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert attempt(app, "13900001234").status_code == 302


def test_user_names_differing_in_case_are_one_name(zjtx):
    from engine.errors import ValidationFailed

    with zjtx.db.write() as session:
        admin = actor_for(session, "admin")
    with pytest.raises(ValidationFailed) as refused:
        zjtx.identity.save_user(admin, {"username": "Office", "display_name": "某人", "department": "区经济信息委",
                                        "roles": ["dispatcher"], "password": "long-enough"})
    assert "用户名「Office」已存在" in refused.value.errors["username"]
