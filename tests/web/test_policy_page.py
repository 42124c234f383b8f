"""The policy page (/policy/): the plan clause by clause with what encodes each clause, its live state and
the coverage figure; the diagram view with a clause's elements marked; the designer's 政策条款 field."""
from __future__ import annotations

import re

import pytest

from engine.plan.tags import process_tags
from tests.helpers import Browser, Item, User, wait_for
from tests.policy.test_clauses import BUNDLED_FIGURE
from web import create_app


@pytest.fixture
def app(zjtx):
    return create_app(services=zjtx, config={"TESTING": True})


def clause_section(html: str, clause: str) -> str:
    found = re.search(rf'<section class="card clause[^"]*" id="clause-{re.escape(clause)}".*?</section>', html, re.S)
    assert found, clause
    return found.group(0)


def select(page, element: str) -> None:
    page.evaluate("(id) => { const m = window.zjtxModeler; m.get('selection').select(m.get('elementRegistry').get(id)); }",
                  element)


def open_count(html: str, clause: str) -> int:
    return int(re.search(r'data-open="(\d+)"', clause_section(html, clause)).group(1))


def test_the_page_shows_the_coverage_and_each_clause_with_its_encoders(app):
    html = Browser.signed_in(app, "dispatcher").get("/policy/").get_data(as_text=True)
    assert f'id="coverage-figure">{BUNDLED_FIGURE}<' in html
    assert "尚未编码：四（四）" in html
    part = clause_section(html, "三.22")
    assert "一企一策一人" in part and re.search(r">企业问题交办</a><details><summary>\d+ 个环节</summary>[^<]*、交办、", part)
    assert 'href="/policy/processes/problem_dispatch?clause=%E4%B8%89.22"' in part
    assert "措施 22" in part and "尚无进展评定" in part
    assert "决策规则" in clause_section(html, "二（二）") and "通报指标" in clause_section(html, "四（二）")
    goals = clause_section(html, "一")
    assert "目标统计" in goals and "到2025年国家专精特新“小巨人”企业1—2家" in goals
    assert "unencoded" in clause_section(html, "四（四）")
    assert "<h2 class=\"plan-heading level-1\">三、工作重点</h2>" in html


def test_the_open_count_of_a_clause_changes_when_an_item_is_started(app, zjtx):
    browser = Browser.signed_in(app, "office")
    before = open_count(browser.get("/policy/").get_data(as_text=True), "三.22")
    Item(zjtx)  # a new problem: its 研判 step is open, tagged 三.22
    after = browser.get("/policy/").get_data(as_text=True)
    assert open_count(after, "三.22") == before + 1
    assert open_count(after, "四（一）") == open_count(browser.get("/policy/").get_data(as_text=True), "四（一）")


def test_the_measures_last_rating_is_shown(app, zjtx):
    from datetime import date

    from engine.policy.measures.reports import record_report

    with zjtx.db.write() as session:
        record_report(session, 22, date(2026, 7, 1), date(2026, 9, 30), "区经济信息委", True, "已配备服务专员",
                      [], "推进中", None, None, zjtx.queries.clock())
    html = Browser.signed_in(app, "dispatcher").get("/policy/").get_data(as_text=True)
    assert 'data-rating="推进中"' in clause_section(html, "三.22") and "2026-09-30" in clause_section(html, "三.22")


def test_every_signed_in_staff_member_reads_counts_only(app, zjtx):
    item = Item(zjtx)
    for user in ("science_tech_bureau_liaison", "officer", "designer"):
        response = Browser.signed_in(app, user).get("/policy/")
        assert response.status_code == 200
        assert item.key not in response.get_data(as_text=True)  # no item's details, only counts
    anonymous = app.test_client().get("/policy/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_diagram_view_marks_the_clauses_elements(app):
    browser = Browser.signed_in(app, "leader")
    page = browser.get("/policy/processes/problem_dispatch?clause=四（一）").get_data(as_text=True)
    marked = re.search(r'data-active="([^"]*)"', page).group(1).split(",")
    assert {"remit_ruling", "leader_ruling", "office_decision"} <= set(marked) and "dispatch" not in marked
    xml = browser.get("/policy/processes/problem_dispatch/diagram.bpmn")
    assert xml.status_code == 200 and b'name="clause"' in xml.data
    assert browser.get("/policy/processes/no_such_process").status_code == 404
    assert browser.get("/policy/processes/no_such_process/diagram.bpmn").status_code == 404


@pytest.mark.browser
@pytest.mark.sqlite_only
def test_the_page_fits_a_small_phone_and_the_viewer_shows_a_clause(chromium, server, zjtx):
    item = Item(zjtx)
    user = User(chromium, server, "dispatcher", viewport={"width": 360, "height": 740})
    user.page.goto(f"{server}/policy/")
    assert user.page.inner_text("#coverage-figure") == BUNDLED_FIGURE
    width = user.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    user.shot("phone-dispatcher-policy")
    user.page.click("#clause-三\\.22 a[href*='problem_dispatch']")
    user.page.wait_for_selector("#diagram[data-rendered=true]", timeout=15000)
    assert user.page.locator(".djs-element.zjtx-active").count() >= 5
    user.page.evaluate("""() => {
        const v = window.zjtxViewer;
        v.get('eventBus').fire('element.click', {element: v.get('elementRegistry').get('dispatch')});
    }""")
    assert user.page.inner_text("#diagram-clause") == "交办：政策条款 三.22, 四（二）"
    width = user.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    # an item's page: the same viewer tells an element's clause
    user.page.goto(f"{server}/items/{item.id}")
    user.page.wait_for_selector("#diagram[data-rendered=true]", timeout=15000)
    assert "政策条款：三.22, 四（二）" in user.page.inner_html("#diagram")  # the tooltip of 研判
    user.page.evaluate("""() => {
        const v = window.zjtxViewer;
        v.get('eventBus').fire('element.click', {element: v.get('elementRegistry').get('triage')});
    }""")
    assert user.page.inner_text("#diagram-clause") == "研判：政策条款 三.22, 四（二）"
    assert user.errors == [] and user.foreign_requests() == []


@pytest.mark.browser
@pytest.mark.sqlite_only
def test_a_designer_edits_the_clause_field_and_the_deployed_version_stores_the_tag(chromium, server, zjtx):
    designer = User(chromium, server, "designer")
    page = designer.page
    page.goto(f"{server}/designer/joint_meeting/edit")
    page.wait_for_selector("#designer[data-ready=true]", timeout=15000)
    panel = page.locator("#properties")
    assert panel.locator("[data-property=clause]").input_value() == "四（一）"  # the process's own
    select(page, "record_meeting")
    field = panel.locator("[data-property=clause]")
    assert field.input_value() == "四（一）"
    field.fill("四（一）, 三.22")
    field.dispatch_event("change")
    page.fill("#note", "纪要环节也落实服务联系机制")
    page.click("#deploy")
    page.wait_for_selector(".flash.deployed", timeout=15000)
    assert "已部署 联席会议 第 2 版" in page.locator("#report").inner_text()
    from lxml import etree

    with zjtx.db.read() as session:
        _, text = zjtx.registry.source(session, "joint_meeting", None)
    process = etree.fromstring(text.encode()).find("{http://www.omg.org/spec/BPMN/20100524/MODEL}process")
    tags = {t.element: t.clauses for t in process_tags(process)}
    assert tags["record_meeting"] == ("四（一）", "三.22") and tags[None] == ("四（一）",)

    # an unknown clause typed in the field is refused, naming the element
    select(page, "approve_agenda")
    panel.locator("[data-property=clause]").fill("五（九）")
    panel.locator("[data-property=clause]").dispatch_event("change")
    page.click("#deploy")
    page.wait_for_selector(".flash.error", timeout=15000)
    report = page.locator("#report").inner_text()
    assert "「审定会议议程」的政策条款「五（九）」不是行动计划中的条款" in report
    assert designer.errors == [] and designer.foreign_requests() == []


@pytest.mark.browser
@pytest.mark.sqlite_only
def test_a_rules_clause_is_edited_in_the_dmn_editors_annotation_column_and_deployed(chromium, server, zjtx):
    designer = User(chromium, server, "designer")
    page = designer.page
    page.goto(f"{server}/designer/dmn/assessment_weights.dmn/edit")
    page.wait_for_selector("#designer[data-ready=true]", timeout=15000)
    assert "〔条款：二（二）〕" in page.inner_text("#clause-hint")
    cell = page.locator("td.annotation", has_text="按期办结率：权重 0.4〔条款：四（二）〕")
    cell.click()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # before 〕
    page.keyboard.type("，四（三）")
    # dmn-js applies typed text to its model after a short debounce: wait until the model has it
    wait_for(lambda: "四（二），四（三）〕" in page.evaluate("() => window.zjtxModeler.saveXML().then(r => r.xml)"))
    page.click("#validate")
    page.wait_for_selector("#report .flash", timeout=15000)
    page.click("#deploy")
    page.wait_for_selector("#report .flash.deployed", timeout=15000)
    assert "已部署 监测评价与通报" in page.locator("#report").inner_text()  # the process using the table
    from lxml import etree

    from engine.plan.tags import rule_tags

    with zjtx.db.read() as session:
        tables = zjtx.registry.latest_decision_sources(session)
    tags = {t.element: t.clauses for t in rule_tags(etree.fromstring(tables["assessment_weights.dmn"]))}
    assert tags["rule_on_time"] == ("四（二）", "四（三）") and tags["rule_first_time"] == ("四（二）",)
    assert designer.errors == [] and designer.foreign_requests() == []
