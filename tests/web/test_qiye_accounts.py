"""企业端 pages (web/qiye): an invited contact signs in with a code, a password or not at all (wrong code,
limits), sessions end on sign-out and when idle, and the two realms never mix: a staff session is refused on
the enterprise pages (403 「请使用企业账号登录」) and an enterprise session is nobody on the staff pages and
the API (every route walked)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine

from engine.policy.portal import EnterpriseAccounts
from tests.helpers import (
    GOOD,
    INVITE_LINK,
    LOGIN_CODE,
    SHOTS,
    Browser,
    enterprise_session,
    newest_to,
    queue_email,
    register,
)

pytestmark = pytest.mark.sqlite_only  # the pages; the engine's storage is tested on both (tests/policy/)
MAIL = f"contact-{GOOD[-6:].lower()}@example.com"  # enterprise_session's default address
# Staff routes anyone may open: what an enterprise session may see there is what a stranger sees.
PUBLIC = {"/login", "/healthz", "/api/v1/openapi.json", "/metrics"}
PUBLIC_PREFIXES = ("/qiye", "/static", "/vendor", "/gongshi")  # the enterprise realm, files, the public 公示


def _invited(zjtx, email="li.manager@example.com") -> str:
    queue_email(zjtx)
    EnterpriseAccounts.of(zjtx).invite("officer", register(zjtx), {"contact_name": "李经理", "email": email})
    return newest_to(zjtx, email, INVITE_LINK)


def test_the_helper_signs_in_through_the_pages_and_the_home_page_names_the_enterprise(app, zjtx):
    client = enterprise_session(app, zjtx)
    page = client.get("/qiye/").get_data(as_text=True)
    assert "重庆黔江某精密制造有限公司" in page and "张经理" in page
    assert client.get("/qiye/account").status_code == 200


def test_an_enterprise_session_is_nobody_on_every_staff_page_and_api(app, zjtx):
    client = enterprise_session(app, zjtx)
    problems = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PUBLIC_PREFIXES) or "GET" not in rule.methods:
            continue
        url = re.sub(r"<(?:int:)?[a-z_]+>", "1", re.sub(r"<path:[a-z_]+>", "a", rule.rule))
        response = client.client.get(url)
        if url in PUBLIC:
            continue
        status, location = response.status_code, response.headers.get("Location", "")
        if url.startswith("/api/"):
            ok = status == 401
        else:  # to the staff login, or no such page: never a page with data
            ok = (status == 302 and "/login" in location and "/qiye" not in location) or status == 404
        if not ok:
            problems.append(f"{url}: {status} {location}")
    for rule in app.url_map.iter_rules():  # and every state-changing staff route, with the session's CSRF token
        # /logout clears the cookie whoever holds it: tried last, below
        if rule.rule.startswith(PUBLIC_PREFIXES) or rule.rule in ("/login", "/logout") or "POST" not in rule.methods:
            continue
        url = re.sub(r"<(?:int:)?[a-z_]+>", "1", re.sub(r"<path:[a-z_]+>", "a", rule.rule))
        url = re.sub(r"<any\(([a-z_]+),[^>]*>", r"\1", url)
        response = client.post(url, {})
        status, location = response.status_code, response.headers.get("Location", "")
        ok = status == 401 if url.startswith("/api/") else (status == 302 and location.startswith("/login")) or status == 404
        if not ok:
            problems.append(f"POST {url}: {status} {location}")
    assert not problems, "\n".join(problems)
    assert client.client.post("/api/v1/items", json={}).status_code == 401
    assert client.get("/qiye/").status_code == 200  # and the enterprise session is still there
    assert client.post("/logout").status_code == 302 and client.client.get("/qiye/").status_code == 302


def test_a_staff_session_is_refused_on_the_enterprise_pages(app, zjtx, pages):
    token = _invited(zjtx)
    staff = pages("dispatcher")
    for url in ("/qiye/", "/qiye/account", f"/qiye/invite/{token}"):
        response = staff.client.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == 403 and "请使用企业账号登录" in page and 'href="/qiye/login"' in page, url
        assert "黔江某精密" not in page
    assert staff.post(f"/qiye/invite/{token}").status_code == 403
    assert EnterpriseAccounts.of(zjtx).invitation(token)["state"] == "open"  # nothing accepted


def test_signing_in_to_one_realm_ends_the_other(app, zjtx):
    with time_machine.travel("2026-11-04 10:00 +0800", tick=False) as clock:
        client = enterprise_session(app, zjtx)
        assert client.login("dispatcher").status_code == 302
        assert client.client.get("/").status_code == 200
        assert client.client.get("/qiye/").status_code == 403  # staff now: the enterprise session is gone
        clock.shift(timedelta(seconds=61))  # the next code for the contact
        client.get("/qiye/login")
        assert client.post("/qiye/login", {"identifier": MAIL}).status_code == 302
        assert client.post("/qiye/login/code", {"code": newest_to(zjtx, MAIL, LOGIN_CODE)}).status_code == 302
        assert client.client.get("/").status_code == 302  # enterprise now: the staff session is gone
        assert client.client.get("/qiye/").status_code == 200


def test_a_wrong_code_says_so_and_the_right_one_signs_in(app, zjtx):
    token = _invited(zjtx)
    client = Browser(app)
    client.get(f"/qiye/invite/{token}")
    response = client.post(f"/qiye/invite/{token}")
    assert response.status_code == 302 and "/qiye/login" in response.headers["Location"]
    assert client.get(f"/qiye/invite/{token}").status_code == 200  # says it was used
    assert "已使用过" in client.get(f"/qiye/invite/{token}").get_data(as_text=True)
    client.get("/qiye/login")
    assert client.post("/qiye/login", {"identifier": "li.manager@example.com"}).status_code == 302
    code = newest_to(zjtx, "li.manager@example.com", LOGIN_CODE)
    wrong = client.post("/qiye/login/code", {"code": f"{(int(code) + 1) % 10 ** 6:06d}"})
    assert wrong.status_code == 400 and "验证码错误，还可尝试 4 次" in wrong.get_data(as_text=True)
    assert client.post("/qiye/login/code", {"code": code}).status_code == 302
    assert "李经理" in client.get("/qiye/").get_data(as_text=True)
    again = client.get(f"/qiye/invite/{token}").get_data(as_text=True)  # the used link, signed in by now
    assert "您已登录" in again and 'href="/qiye/"' in again and "李经理" in again


def test_codes_asked_too_often_from_one_address_get_a_chinese_429(app, zjtx):
    client = Browser(app)
    client.get("/qiye/login")
    answers = [client.post("/qiye/login", {"identifier": f"n{i}@example.com"}).status_code for i in range(11)]
    assert answers[:10] == [302] * 10 and answers[10] == 429
    page = client.post("/qiye/login", {"identifier": "x@example.com"}).get_data(as_text=True)
    assert "请求过于频繁" in page
    other = Browser(app)  # another address is not limited
    other.get("/qiye/login")
    assert other.client.post("/qiye/login", data={"csrf_token": other.token, "identifier": "y@example.com"},
                             environ_base={"REMOTE_ADDR": "10.7.7.7"}).status_code == 302


def test_a_second_code_within_a_minute_is_refused_in_chinese(app, zjtx):
    client = enterprise_session(app, zjtx)
    client.get("/qiye/login")
    response = client.post("/qiye/login", {"identifier": MAIL})
    assert response.status_code == 429 and "秒后再试" in response.get_data(as_text=True)


def test_a_password_set_on_the_account_page_signs_in_and_ends_other_sessions(app, zjtx):
    client = enterprise_session(app, zjtx)
    other = Browser(app)
    other.client.set_cookie("session", client.client.get_cookie("session").value)  # a copy of the cookie
    refused = client.post("/qiye/account", {"new_password": "short", "confirm_password": "short"})
    assert refused.status_code == 400 and "新密码至少 8 位" in refused.get_data(as_text=True)
    assert client.post("/qiye/account", {"new_password": "qiye-pass-2026", "confirm_password": "qiye-pass-2026"}
                       ).status_code == 302
    assert client.get("/qiye/").status_code == 200
    assert other.client.get("/qiye/").status_code == 302  # the copied cookie has ended
    fresh = Browser(app)
    fresh.get("/qiye/login")
    wrong = fresh.post("/qiye/login/password", {"identifier": MAIL, "password": "qiye-pass-2025"})
    assert wrong.status_code == 401 and "密码错误" in wrong.get_data(as_text=True)
    assert fresh.post("/qiye/login/password", {"identifier": MAIL, "password": "qiye-pass-2026"}).status_code == 302
    assert "张经理" in fresh.get("/qiye/").get_data(as_text=True)


def test_sign_out_ends_the_session_and_its_copies(app, zjtx):
    client = enterprise_session(app, zjtx)
    copy = Browser(app)
    copy.client.set_cookie("session", client.client.get_cookie("session").value)
    assert client.post("/qiye/logout").status_code == 302
    assert client.client.get("/qiye/").status_code == 302
    response = copy.client.get("/qiye/")
    assert response.status_code == 302 and "/qiye/login" in response.headers["Location"]


def test_an_idle_session_ends_after_the_staff_limit(app, zjtx):
    with time_machine.travel("2026-11-04 10:00 +0800", tick=False) as clock:
        client = enterprise_session(app, zjtx)
        clock.shift(timedelta(minutes=29))
        assert client.client.get("/qiye/").status_code == 200
        clock.shift(timedelta(minutes=31))
        response = client.client.get("/qiye/")
        assert response.status_code == 302 and "/qiye/login" in response.headers["Location"]
        assert "登录已超时" in client.client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_unknown_invitation_is_404(app):
    assert Browser(app).client.get("/qiye/invite/not-a-token").status_code == 404


def test_the_service_officer_invites_from_the_enterprise_page(app, zjtx, pages):
    queue_email(zjtx)
    enterprise_id = register(zjtx)
    officer = pages("officer")
    page = officer.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert "企业账号" in page and "邀请开通企业账号" in page and "未开通" in page
    refused = officer.post(f"/enterprises/{enterprise_id}/invite", {"contact_name": "", "email": "bad"})
    assert refused.status_code == 302
    page = officer.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert "联系人姓名：请填写联系人姓名" in page and "邮箱：邮箱格式不正确" in page
    officer.post(f"/enterprises/{enterprise_id}/invite", {"contact_name": "周经理", "email": "zhou@example.com"})
    assert "已向 zhou@example.com 发出企业账号邀请" in officer.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert INVITE_LINK.search(newest_to(zjtx, "zhou@example.com", re.compile(r"(http\S+/qiye/invite/\S+)")))
    liaison = pages("science_tech_bureau_liaison")
    assert liaison.post(f"/enterprises/{enterprise_id}/invite",
                        {"contact_name": "某人", "email": "x@example.com"}).status_code in (403, 404)


def test_a_registration_on_the_page_is_confirmed_by_the_officer_on_theirs(app, zjtx, pages):
    queue_email(zjtx)
    register(zjtx)
    visitor = Browser(app)
    visitor.get("/qiye/register")
    form = {"uscc": GOOD, "enterprise_name": "重庆黔江某精密制造有限公司", "contact_name": "吴经理", "email": "wu@example.com"}
    wrong = visitor.post("/qiye/register", {**form, "enterprise_name": "别的公司"})
    assert wrong.status_code == 400 and "不一致" in wrong.get_data(as_text=True)
    done = visitor.post("/qiye/register", form)
    assert done.status_code == 200 and "注册申请已提交" in done.get_data(as_text=True)
    officer = pages("officer")
    listed = officer.get("/enterprises/").get_data(as_text=True)
    assert "企业账号注册申请 <strong>1</strong> 件" in listed and 'href="/enterprises/registrations"' in listed
    page = officer.get("/enterprises/registrations").get_data(as_text=True)
    assert "吴经理" in page and "wu@example.com" in page
    account_id = int(re.search(r"/enterprises/registrations/(\d+)/confirm", page).group(1))
    no_reason = officer.post(f"/enterprises/registrations/{account_id}/refuse", {"reason": ""})
    assert no_reason.status_code == 400 and "请填写不予确认的理由" in no_reason.get_data(as_text=True)
    assert officer.post(f"/enterprises/registrations/{account_id}/confirm").status_code == 302
    assert "已确认开通企业账号，已告知 wu@example.com" in officer.get("/enterprises/registrations").get_data(as_text=True)
    visitor.get("/qiye/login")
    visitor.post("/qiye/login", {"identifier": "wu@example.com"})
    assert visitor.post("/qiye/login/code", {"code": newest_to(zjtx, "wu@example.com", LOGIN_CODE)}).status_code == 302
    assert "吴经理" in visitor.get("/qiye/").get_data(as_text=True)
    assert pages("science_tech_bureau_liaison").client.get("/enterprises/registrations").status_code == 403


def _fits(page, name: str) -> None:
    page.wait_for_load_state("load")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"qiye-{name}.png"), full_page=True)
    assert width[0] <= width[1], f"{name} scrolls sideways: {width[0]} > {width[1]} px"
    small = page.eval_on_selector_all("main form button, main form input:not([type=hidden])", """controls =>
        controls.filter(e => { const r = e.getBoundingClientRect(); return r.height > 0 && r.height < 44; })
                .map(e => e.outerHTML.slice(0, 80))""")
    assert small == [], f"{name}: controls under 44 px: {small}"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 360, "height": 740}])
def test_an_invited_contact_opens_the_account_and_signs_in_on_a_phone(chromium, server, zjtx, viewport):
    token = _invited(zjtx, "phone@example.com")
    context = chromium.new_context(locale="zh-CN", viewport=viewport, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    size = f"{viewport['width']}x{viewport['height']}"
    page.goto(f"{server}/qiye/invite/{token}")
    assert "李经理" in page.content() and "ph***@example.com" in page.content()
    _fits(page, f"{size}-invite")
    page.click("button:has-text('确认开通')")
    page.wait_for_url(re.compile(r".*/qiye/login.*"))
    assert page.input_value("input[name=identifier]") == "phone@example.com"
    _fits(page, f"{size}-login")
    page.click("button:has-text('获取验证码')")
    page.wait_for_url(re.compile(r".*/qiye/login/code.*"))
    _fits(page, f"{size}-code")
    page.fill("input[name=code]", newest_to(zjtx, "phone@example.com", LOGIN_CODE))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/qiye/")
    assert "重庆黔江某精密制造有限公司" in page.content()
    _fits(page, f"{size}-home")
    page.goto(f"{server}/qiye/register")
    _fits(page, f"{size}-register")
    assert errors == []
    context.close()


def test_the_officer_disables_an_account_and_its_contact_is_signed_out(app, zjtx, pages):
    client = enterprise_session(app, zjtx)
    officer = pages("officer")
    enterprise_id = int(re.search(r"/enterprises/(\d+)", officer.get("/enterprises/").get_data(as_text=True)).group(1))
    assert "停用企业账号" in officer.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert officer.post(f"/enterprises/{enterprise_id}/qiye-account/disable").status_code == 302
    assert "已停用，所有登录已退出" in officer.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert client.client.get("/qiye/").status_code == 302
    officer.post(f"/enterprises/{enterprise_id}/qiye-account/enable")
    assert "停用企业账号" in officer.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
