"""全市情况 in Chromium (issue 20) at a phone's and a desk's size: 市经济信息委's officer opens the districts side by
side; nothing scrolls sideways, nothing is loaded from another host; screenshots test-output/browser/city-*.png."""
from __future__ import annotations

import pytest

from tests.helpers import User

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser]
SIZES = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1366, "height": 768}}


@pytest.mark.parametrize("size", SIZES)
def test_the_city_officer_reads_the_districts_side_by_side(zjtx, server, chromium, size):
    zjtx.create_district("500000", "重庆市", demo_prefix="cq_")
    zjtx.create_district("500243", "彭水县", full_name="重庆市彭水苗族土家族自治县", demo_prefix="ps_")
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
