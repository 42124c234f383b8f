"""全市情况 in Chromium (issue 20) at a phone's and a desk's size: 市经济信息委's officer opens the districts side by
side; nothing scrolls sideways, nothing is loaded from another host; screenshots test-output/browser/city-*.png."""
from __future__ import annotations

import pytest

from tests.helpers import User

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser]
SIZES = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1366, "height": 768}}


@pytest.fixture
def districts(zjtx):
    """重庆市本级 (cq_ accounts) and 彭水县 (ps_ accounts) beside 黔江区."""
    zjtx.create_district("500000", "重庆市", demo_prefix="cq_")
    zjtx.create_district("500243", "彭水县", full_name="重庆市彭水苗族土家族自治县", demo_prefix="ps_")


@pytest.mark.parametrize("size", SIZES)
def test_the_city_officer_reads_the_districts_side_by_side(zjtx, districts, server, chromium, size):
    officer = User(chromium, server, "cq_dispatcher", SIZES[size])
    page = officer.page
    page.click("nav a:text-is('全市情况')") if size == "desk" else page.goto(f"{server}/city/")
    page.wait_for_selector("table.city-table")
    assert [h.inner_text() for h in page.query_selector_all("table.city-table thead th")] == ["指标", "黔江区", "彭水县"]
    page.select_option("#month", page.eval_on_selector("#month option:nth-child(2)", "o => o.value"))
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("table.city-table")
    assert "month=" in page.url
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    officer.shot(f"city-{size}")
    assert width[0] <= width[1], f"/city/ at {size} scrolls sideways: {width}"
    assert page.query_selector("#district-500243 h2").inner_text().startswith("彭水县")
    assert not officer.errors and not officer.foreign_requests()


@pytest.mark.parametrize("size", SIZES)
def test_the_template_offer_and_the_city_request_fit_a_phone_and_a_desk(zjtx, districts, server, chromium, size):
    """彭水县's designer sees the city's templates and adopts one; 黔江区's 交办员 asks the city on an item's page."""
    from tests.helpers import Item

    designer = User(chromium, server, "ps_designer", SIZES[size])
    page = designer.page
    page.goto(f"{server}/designer/")
    page.wait_for_selector("section.templates tr[data-template='problem_dispatch']")
    page.click("tr[data-template='problem_dispatch'] a:text-is('查看差异')")
    page.wait_for_selector("h1:has-text('全市模板差异')")
    designer.shot(f"template-diff-{size}")
    page.click("button:has-text('采用全市模板')")
    page.wait_for_selector("tr[data-template='problem_dispatch'][data-state='current']")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    designer.shot(f"templates-{size}")
    assert width[0] <= width[1], f"/designer/ at {size} scrolls sideways: {width}"
    item = Item(zjtx)
    item.accept()
    item.dispatch("区科技局")
    dispatcher = User(chromium, server, "dispatcher", SIZES[size])
    page = dispatcher.page
    page.goto(f"{server}/items/{item.id}")
    page.fill("#city-reason", "涉及市级审批权限，需市级部门协调")
    page.click("#city-link button[type=submit]")
    page.wait_for_selector("#city-link strong")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    dispatcher.shot(f"city-request-{size}")
    assert width[0] <= width[1], f"the item page at {size} scrolls sideways: {width}"
    assert "市级事项" in page.inner_text("#city-link")
    assert not designer.errors and not dispatcher.errors
    assert not designer.foreign_requests() and not dispatcher.foreign_requests()


@pytest.mark.parametrize("size", {"phone": {"width": 360, "height": 740}, "desk": SIZES["desk"]})
def test_the_city_administrator_creates_a_district_at_a_phone_and_a_desk(zjtx, districts, server, chromium, size):
    """区县管理: the form at 360 px and at a desk; a wrong password is named, the district then made."""
    width_px = 360 if size == "phone" else SIZES["desk"]["width"]
    admin = User(chromium, server, "cq_admin", {"width": width_px, "height": 740})
    page = admin.page
    page.goto(f"{server}/city/districts")
    page.fill("input[name=code]", "500101")
    page.fill("input[name=name]", "万州区")
    page.fill("input[name=admin_username]", f"wz_{size}")
    page.fill("input[name=admin_password]", "a-long-password")
    page.click("#new-district button[type=submit]")
    page.wait_for_selector("tr[data-district='500101']")
    assert "已新建万州区" in page.inner_text("body")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    admin.shot(f"city-districts-{size}")
    assert width[0] <= width[1], f"/city/districts at {size} scrolls sideways: {width}"
    assert not admin.errors and not admin.foreign_requests()
