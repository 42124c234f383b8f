"""Clicking through every figure of the crafted month's circular (and of the dashboard in that month) lists
exactly the items counted; the development section's figures list their enterprises; a liaison is refused
another unit's list; the pages fit a phone. The right answers are worked out by hand from crafted_october."""
from __future__ import annotations

import re
from datetime import date
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine

from engine.policy.dispatch.figures import RATE_PARTS
from tests.helpers import OCTOBER_CO, OCTOBER_LEAD, OCTOBER_WRONG, Browser, User, at, crafted_october, head, liaison
from web import create_app

LEAD, CO, WRONG = OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG
A, B, C, D = (f"ZJTX-2026-0000{n}" for n in range(1, 5))
EXPECTED = {  # per unit and figure: the items counted (a rate: numerator, denominator); others count none
    LEAD: {"received": [A, B], "extension_requests": [B], "due": [A, B], "closed": [A, B], "closed_on_time": [A, B],
           "on_time_rate": ([A, B], [A, B]), "first_time_rate": ([A], [A, B]), "satisfaction_rate": ([A, B], [A, B]),
           "solved_rate": ([A], [A, B])},
    CO: {"received": [C, D], "due": [C], "closed": [C], "on_time_rate": ([], [C]), "overdue_now": [D],
         "first_time_rate": ([C], [C]), "satisfaction_rate": ([C], [C]), "solved_rate": ([C], [C]),
         "urged": [D], "supervised": [D]},
    WRONG: {"received": [C], "returns": [C]},
}
LINK = re.compile(r'<a class="figure" href="([^"]+)">([^<]*)</a>')
SIZES = {"desk": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844},
         "phone360": {"width": 360, "height": 740}}


def expected(department: str, figure: str) -> list[list[str]]:
    found = EXPECTED[department].get(figure)
    if figure in RATE_PARTS:
        return [list(x) for x in found] if found else [[], []]
    return [found or []]


def listed(html: str) -> list[list[str]]:
    """The business keys of each list on an evidence page, in order."""
    sections = html.split('<section class="evidence-list"')[1:]
    return [re.findall(r'<tr data-key="([^"]+)">', s) for s in sections]


def published_october(zjtx) -> int:
    crafted_october(zjtx)
    with time_machine.travel(at("2026-11-06 10:00"), tick=False), zjtx.db.write() as session:
        circular = zjtx.circulars.draft_in(session, date(2026, 10, 1), date(2026, 10, 31))
        zjtx.circulars.publish_in(session, circular.id, "office")
        return circular.id


def walk(browser: Browser, page: str) -> dict[tuple, list[list[str]]]:
    """Every figure link of ``page``, followed: (department or None, figure) → the listed keys."""
    html = browser.get(page).get_data(as_text=True)
    out = {}
    for href, _ in LINK.findall(html):
        href = unescape(href)
        response = browser.get(href)
        assert response.status_code == 200, href
        query = parse_qs(urlparse(href).query)
        out[(query.get("department", [None])[0], query["figure"][0])] = listed(response.get_data(as_text=True))
    return out


def test_every_figure_of_the_circular_lists_exactly_the_items_counted(zjtx):
    circular_id = published_october(zjtx)
    app = create_app(services=zjtx, config={"TESTING": True})
    office = Browser.signed_in(app, "office")
    found = walk(office, f"/circulars/{circular_id}")
    departments = {k[0] for k in found if k[0]}
    assert departments == set(EXPECTED)
    columns = {k[1] for k in found if k[0] == LEAD}
    assert {"received", "on_time_rate", "overdue_now", "solved_rate", "supervised"} <= columns
    for (department, figure), keys in found.items():
        if department:
            assert keys == expected(department, figure), (department, figure)
    # The development section drills down to enterprises (none in the crafted month's registry): every figure
    # of it is a link.
    development = {figure for department, figure in found if department is None}
    assert {"pool", "recognised_innovative", "recognised_specialized", "recognised_little_giant", "rd_ratio",
            "revenue_growth", "goal_0", "goal_1", "goal_2"} <= development
    page = office.get(f"/circulars/{circular_id}/evidence?department={CO}&figure=overdue_now").get_data(as_text=True)
    assert "随通报发布时固定" in page and "2026-10-21 23:59" in page and 'href="/items/' in page


def test_a_liaison_sees_only_their_own_units_lists(zjtx):
    circular_id = published_october(zjtx)
    app = create_app(services=zjtx, config={"TESTING": True})
    co = Browser.signed_in(app, liaison(CO))
    linked = walk(co, f"/circulars/{circular_id}")  # the page links their own unit's figures (and the section's)
    assert {k[0] for k in linked} == {CO, None}
    own = co.get(f"/circulars/{circular_id}/evidence?department={CO}&figure=received")
    assert own.status_code == 200 and listed(own.get_data(as_text=True)) == [[C, D]]
    other = co.get(f"/circulars/{circular_id}/evidence?department={LEAD}&figure=received")
    assert other.status_code == 403 and A not in other.get_data(as_text=True)
    bad = co.get(f"/circulars/{circular_id}/evidence?department={CO}&figure=nonsense")
    assert bad.status_code == 400 and "「指标」" in bad.get_data(as_text=True)
    assert co.get(f"/circulars/{circular_id + 99}/evidence?department={CO}&figure=received").status_code == 404
    assert co.get(f"/dashboard/evidence?department={CO}&figure=received").status_code == 403  # not a dashboard role


def test_the_dashboards_figures_link_to_this_months_items_live(zjtx):
    crafted_october(zjtx)
    app = create_app(services=zjtx, config={"TESTING": True})
    with time_machine.travel(at("2026-10-27 16:00"), tick=False):
        dispatcher = Browser.signed_in(app, "dispatcher")
        found = walk(dispatcher, "/dashboard")
        co_head = Browser.signed_in(app, head(CO))  # a head: links (and lists) for their own unit only
        own = walk(co_head, "/dashboard")
        refused = co_head.get(f"/dashboard/evidence?department={LEAD}&figure=received")
    assert {k[0] for k in found} == {*EXPECTED, None}
    for (department, figure), keys in found.items():
        if department:
            assert keys == expected(department, figure), (department, figure)
    goals = sorted(figure for department, figure in found if department is None)  # the goals' enterprises
    assert goals[:3] == ["goal_0", "goal_1", "goal_2"]
    assert {k[0] for k in own} == {CO, None}
    assert {f: k for (d, f), k in own.items() if d and k != expected(CO, f)} == {}
    assert refused.status_code == 403


@pytest.mark.sqlite_only
@pytest.mark.browser
def test_clicking_through_the_circular_in_a_browser_on_a_phone_and_a_desk(zjtx, server, chromium):
    circular_id = published_october(zjtx)
    for size, viewport in SIZES.items():
        user = User(chromium, server, "office", viewport)
        page = user.page
        page.goto(f"{server}/circulars/{circular_id}")
        hrefs = page.eval_on_selector_all("a.figure", "links => links.map(a => a.getAttribute('href'))")
        assert len(hrefs) >= 3 * 11
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{size}: the circular scrolls sideways"
        user.shot(f"evidence-{size}-circular")
        for i, href in enumerate(hrefs):
            if i % (1 if size == "desk" else 7):  # every figure on the desk; a sample on the phones
                continue
            page.goto(server + href)
            query = parse_qs(urlparse(href).query)
            sections = page.eval_on_selector_all("section.evidence-list", """s => s.map(x =>
                [...x.querySelectorAll('tr[data-key]')].map(r => r.dataset.key))""")
            if "department" in query:
                assert sections == expected(query["department"][0], query["figure"][0]), href
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{size}: {href} scrolls sideways"
        page.goto(f"{server}/circulars/{circular_id}/evidence?department={CO}&figure=on_time_rate")
        user.shot(f"evidence-{size}-rate")
        assert not user.errors and not user.foreign_requests()
        user.context.close()
