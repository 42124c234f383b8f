"""The pool pages on a phone (390×844, and 360×740) in Debian's chromium: the enterprise's /qiye/pool, signed in through the
portal's own pages, and the public 公示 and its objection form without signing in; no sideways scroll, no script
error, no request leaving our server. Screenshots: test-output/browser/{phone,small}-qiye-pool*.png, …-gongshi*.png."""
from __future__ import annotations

import pytest

from engine.policy.portal import EnterpriseAccounts
from tests.helpers import INVITE_LINK, LOGIN_CODE, SHOTS, newest_to, queue_email, register

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("clock")]
PHONES = {"phone": {"width": 390, "height": 844}, "small": {"width": 360, "height": 740}}


def _fits(page, base: str, requests: list[str], errors: list[str], shot: str) -> None:
    page.wait_for_load_state("load")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width}"
    assert not errors, errors
    assert all(r.startswith(base) or r.startswith("data:") for r in requests), requests
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


def _window(chromium, viewport: dict):
    context = chromium.new_context(locale="zh-CN", viewport=viewport, has_touch=True)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, requests, errors


@pytest.mark.parametrize("size", PHONES)
def test_the_pool_page_and_the_public_notice_on_a_phone(zjtx, server, chromium, size):
    enterprise_id = register(zjtx)
    queue_email(zjtx)
    email = "li@example.com"
    EnterpriseAccounts.of(zjtx).invite("dispatcher", enterprise_id, {"contact_name": "李经理", "email": email})
    context, page, requests, errors = _window(chromium, PHONES[size])
    page.goto(f"{server}/qiye/invite/{newest_to(zjtx, email, INVITE_LINK)}")
    page.click("main form button[type=submit]")
    page.goto(f"{server}/qiye/login")
    page.fill("input[name=identifier]", email)
    page.click("main form button[type=submit]")
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", newest_to(zjtx, email, LOGIN_CODE))
    page.click("main form button[type=submit]")
    page.wait_for_load_state("load")
    page.goto(f"{server}/qiye/pool")
    assert "符合培育入库条件" in page.inner_text("#self-check")
    _fits(page, server, requests, errors, f"{size}-qiye-pool")
    page.click("#apply button[type=submit]")
    page.wait_for_selector("#admission-words")
    assert page.inner_text("#admission-words") == "行业主管部门审核中"
    _fits(page, server, requests, errors, f"{size}-qiye-pool-admission")
    context.close()

    started = zjtx.pool_portal.admissions(enterprise_id)[0]
    for step, who in (("industry_review", "commerce_commission_liaison"), ("commission_review", "dispatcher")):
        [task] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == step]
        zjtx.workflows.complete(task["id"], {"review_approved": True}, who)
    context, page, requests, errors = _window(chromium, PHONES[size])  # a stranger: no sign-in
    page.goto(f"{server}/gongshi/")
    assert "重庆黔江某精密制造有限公司" in page.inner_text("main")
    _fits(page, server, requests, errors, f"{size}-gongshi")
    page.click("text=提出异议")
    page.fill("input[name=name]", "张三")
    page.fill("input[name=contact]", "13800001111")
    page.fill("textarea[name=reason]", "该企业2025年研发投入数据与实际不符")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#objection-received")
    _fits(page, server, requests, errors, f"{size}-gongshi-objection")
    context.close()
