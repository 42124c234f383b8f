"""Every role's pages on a desk (1366×768) and a phone (390×844; the inbox at 360×740 too), with the demo
data: no page scrolls sideways, no script error, no request leaves our server, the inbox's cards and the
forms' controls are at least 44 px tall on a phone. Screenshots: test-output/browser/<size>-<role>-<page>.png.
"""
from __future__ import annotations

import re

import pytest

from engine.identity.authz import actor_for
from engine.policy.dispatch.demo import load_demo
from engine.queries.tasks import InboxFilter
from engine.storage.models import Department, HumanTask
from tests.helpers import User, head, liaison

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser, pytest.mark.slow]
SIZES = {"desk": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
SMALL_PHONE = {"width": 360, "height": 740}
# Controls a finger must hit; a radio button or checkbox counts with its label.
TAP_TARGETS = """(selector) => [...document.querySelectorAll(selector)]
  .map(e => (e.type === 'radio' || e.type === 'checkbox') ? (e.closest('label') || e) : e)
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.height < 44; })
  .map(e => e.outerHTML.slice(0, 120) + ' → ' + Math.round(e.getBoundingClientRect().height) + ' px')"""
FORM_CONTROLS = ("form.task-form button, form.task-form input:not([type=hidden]), form.task-form select, "
                 "form.task-form textarea, main form button, main form select, main form input:not([type=hidden])")


@pytest.fixture
def demo(zjtx, server):
    """The demo data (as ``zjtx demo`` loads it) and the department that has the most open work."""
    assert load_demo(zjtx) > 0
    with zjtx.db.read() as session:
        from sqlalchemy import func, select

        name = session.execute(
            select(Department.name).join(HumanTask, HumanTask.department_id == Department.id)
            .where(HumanTask.status.in_(("to_sign", "in_progress")), HumanTask.roles.like("%liaison%"))
            .group_by(Department.name).order_by(func.count(HumanTask.id).desc())).scalars().first()
    return server, name


def _slug(path: str) -> str:
    path = re.sub(r"\?.*", "", path).strip("/")
    return re.sub(r"[^a-z0-9]+", "-", path).strip("-") or "inbox"


def _item_path(zjtx, username: str) -> str | None:
    with zjtx.db.read() as session:
        actor = actor_for(session, username)
    rows = zjtx.queries.inbox(actor, InboxFilter())["items"]
    return f"/items/{rows[0]['instance_id']}" if rows else None


def _check(user: User, path: str, size: str, role: str) -> None:
    user.page.goto(user.base + path)
    user.page.wait_for_load_state("load")
    if path.split("?")[0] == "/dashboard":  # its charts (not its drill-down pages)
        user.page.wait_for_selector("#by-department[data-rendered=true]", timeout=15000)
    width = user.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    user.shot(f"{size}-{role}-{_slug(path)}")
    assert width[0] <= width[1], f"{role} {path} at {size} scrolls sideways: {width[0]} > {width[1]} px"
    assert "服务器内部错误" not in user.page.content(), f"{role} {path} answered an error page"


def _walk(chromium, server, zjtx, username: str, role: str, extra: tuple[str, ...] = ()) -> None:
    for size, viewport in SIZES.items():
        user = User(chromium, server, username, viewport=viewport)
        paths = user.page.eval_on_selector_all("header.top nav a", "links => links.map(a => a.getAttribute('href'))")
        assert paths and paths[0] == "/", paths
        item = _item_path(zjtx, username)
        for path in [*paths, *([item] if item else []), *extra]:
            _check(user, path, size, role)
        assert user.errors == [], user.errors
        assert user.foreign_requests() == [], user.foreign_requests()
        user.context.close()


@pytest.mark.parametrize("role", ["dispatcher", "office", "officer", "admin"])
def test_the_central_roles_pages_fit_a_desk_and_a_phone(chromium, demo, zjtx, role):
    server, department = demo
    extra = ("/console",) if role == "dispatcher" else ()
    if role == "office":  # a figure's drill-down (统计依据), this month's, of the busiest unit
        extra = (f"/dashboard/evidence?department={department}&figure=received",)
    _walk(chromium, server, zjtx, role, role, extra)


def test_a_liaisons_and_a_heads_pages_fit(chromium, demo, zjtx):
    server, department = demo
    _walk(chromium, server, zjtx, liaison(department), "liaison")
    _walk(chromium, server, zjtx, head(department), "head")


def test_the_designer_list_fits_and_the_editor_says_it_needs_a_desktop(chromium, demo, zjtx):
    server, _ = demo
    phone = User(chromium, server, "designer", viewport=SIZES["phone"])
    phone.page.goto(f"{server}/designer/")
    editor = phone.page.get_attribute("a:text-is('在线编辑')", "href")
    _walk(chromium, server, zjtx, "designer", "designer", (editor,))
    phone.page.goto(server + editor)
    notice = phone.page.locator(".desktop-only-notice")
    assert notice.is_visible() and "至少 1024 像素" in notice.inner_text()
    assert phone.page.locator("#download").is_visible()
    desk = User(chromium, server, "designer", viewport=SIZES["desk"])
    desk.page.goto(server + editor)
    assert not desk.page.locator(".desktop-only-notice").is_visible()


def test_the_inbox_on_a_phone_is_cards_with_large_targets(chromium, demo, zjtx):
    server, department = demo
    for name, viewport in (("phone", SIZES["phone"]), ("phone360", SMALL_PHONE)):
        user = User(chromium, server, liaison(department), viewport=viewport)
        _check(user, "/", name, "liaison")
        cards = user.page.locator("table.tasks tbody tr")
        assert cards.count() > 0 and user.page.locator("table.tasks thead").is_hidden()
        first = cards.first
        assert first.locator("td.step").is_visible() and first.locator("td.due").is_visible()
        assert re.search(r"剩余 \d+ 个工作日|已逾期|今天到期|等待审批", first.inner_text())
        assert user.page.evaluate(TAP_TARGETS, "table.tasks tbody tr, .tabs a, .menu-button") == []
        user.page.click("label.menu-button")  # the navigation opens from 菜单
        assert user.page.locator("header.top nav a").first.is_visible()
        assert user.page.evaluate(TAP_TARGETS, "header.top nav a") == []
        user.page.click("label.menu-button")
        step = first.locator("td.step").inner_text()
        box = first.bounding_box()
        user.page.mouse.click(box["x"] + box["width"] - 10, box["y"] + box["height"] - 8)  # anywhere on the card
        user.page.wait_for_url(re.compile(r"/(tasks|items)/\d+"))
        assert step in user.page.content()
        _check(user, user.page.url.removeprefix(server), name, "liaison-task")
        assert user.page.evaluate(TAP_TARGETS, FORM_CONTROLS) == []
        assert user.errors == [] and user.foreign_requests() == []
        user.context.close()


def test_the_dispatchers_form_has_large_targets_on_a_phone(chromium, demo, zjtx):
    server, _ = demo
    user = User(chromium, server, "dispatcher", viewport=SIZES["phone"])
    _check(user, "/console", "phone", "dispatcher-form")
    assert user.page.locator("label.choice").count() > 0
    assert user.page.evaluate(TAP_TARGETS, FORM_CONTROLS + ", label.choice") == []
    font = user.page.evaluate("parseFloat(getComputedStyle(document.querySelector('main form input:not([type=hidden]),"
                              " main form textarea')).fontSize)")
    assert font >= 16  # iOS does not zoom into the field
    assert user.page.locator("header.top .who").inner_text() == "交办员 · 区经济信息委"
