"""The objection window's pages: a unit's 核对 task shows its own row only and the objection form (a drop-down
of figures, errors naming the field); 区经济信息委's resolution page lists the objections with the computed
value, their numbers filled in; the published circular's page shows each objection and its resolution and
marks the corrected cell. At 360 px no page scrolls sideways."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.helpers import OCTOBER_CO, OCTOBER_LEAD, OCTOBER_WRONG, User, crafted_october, head, liaison
from tests.web.test_task_pages import matter_of, page_of, post

BJ = ZoneInfo("Asia/Shanghai")
LEAD, CO, WRONG = OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def task(zjtx, step, department=None):
    return next(t for t in zjtx.queries.tasks() if t["task"] == step and department in (None, t["department"]))


def drafted(zjtx) -> int:
    crafted_october(zjtx)
    with time_machine.travel(at("2026-11-06 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        zjtx.workflows.complete(task(zjtx, "draft")["id"], {
            "circular_text": zjtx.queries.show(started["id"])["data"]["circular_text"]}, "dispatcher")
    return started["id"]


def _section(card: str, title: str) -> str:
    found = re.search(rf'<div class="matter-section[^"]*">\s*<h3>{re.escape(title)}</h3>.*?</div>', card, re.S)
    assert found, title
    return found.group(0)


@pytest.mark.sqlite_only
def test_the_check_page_the_resolution_page_and_the_published_page(zjtx, pages):
    instance_id = drafted(zjtx)
    co_task = task(zjtx, "check_figures", CO)
    with time_machine.travel(at("2026-11-09 10:00"), tick=False):
        html = page_of(pages(liaison(CO)), co_task)
        own = _section(matter_of(html), f"本单位在通报附表中的数据（{CO}）")
        pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", own)
        assert ("按期办结率", "0.0%") in pairs and ("逾期未办结", "1") in pairs and ("督办", "1") in pairs
        # 16 figures (企业自评满意率 and 企业自评解决率 among them); 区科技局's 一次办结率 is not shown
        assert len(pairs) == 16 and LEAD not in own and "50.0%" not in own
        assert '<select name="objections-0-figure">' in html and '<option value="on_time_rate"' in html
        assert pages(liaison(LEAD)).get(f"/tasks/{co_task['id']}").status_code == 404  # not its row to check
        bad = post(pages(liaison(CO)), co_task, {"check_result": "objected", "objections-0-figure": "on_time_rate",
                                                  "objections-0-claimed": "100"})
        assert bad.status_code == 400 and "「异议理由」为必填项" in bad.get_data(as_text=True)
        over = post(pages(liaison(CO)), co_task, {"check_result": "objected", "objections-0-figure": "on_time_rate",
                                                   "objections-0-claimed": "120", "objections-0-reason": "漏记答复"})
        assert over.status_code == 400 and "比率应在 0 至 100 之间" in over.get_data(as_text=True)
        done = post(pages(liaison(CO)), co_task, {"check_result": "objected", "objections-0-figure": "on_time_rate",
                                                   "objections-0-claimed": "100", "objections-0-reason": "漏记答复"})
        assert done.status_code == 302
        for unit in (LEAD, WRONG):
            assert post(pages(liaison(unit)), task(zjtx, "check_figures", unit), {"check_result": "confirmed"}) \
                .status_code == 302
    resolve = task(zjtx, "resolve_objections")
    with time_machine.travel(at("2026-11-10 10:00"), tick=False):
        html = page_of(pages("dispatcher"), resolve)
        listed = _section(matter_of(html), "成员单位提出的数据异议")
        assert f"{CO}「按期办结率」" in listed and "系统统计 0.0%，单位核实 100.0%；理由：漏记答复" in listed
        objection_id = re.search(r"异议 (\d+)：", listed).group(1)
        assert f'name="resolutions-0-objection_id" value="{objection_id}"' in html  # filled in
        refused = post(pages("dispatcher"), resolve, {"resolutions-0-objection_id": objection_id,
                                                      "resolutions-0-decision": "refused"})
        assert refused.status_code == 400 and "「处理说明（不予采纳的须写明理由）」为必填项" in refused.get_data(as_text=True)
        assert post(pages("dispatcher"), resolve, {"resolutions-0-objection_id": objection_id,
                                                   "resolutions-0-decision": "accepted",
                                                   "resolutions-0-note": "经核实按期答复"}).status_code == 302
        approve = task(zjtx, "approve")
        assert "经核对更正" in matter_of(page_of(pages("office"), approve))
        assert post(pages("office"), approve, {"circular_approved": "true"}).status_code == 302
        circular_id = zjtx.queries.show(instance_id)["data"]["circular_id"]
        page = pages(head(WRONG)).get(f"/circulars/{circular_id}").get_data(as_text=True)  # signed in now
    assert "数据核对与异议处理" in page and "已采纳，经核对更正" in page and "更正为 100.0%" in page
    assert re.search(r'100\.0%(</a>)?<sup class="corrected">更正</sup>', page)  # the corrected cell is marked
    assert "1. 区财政局「按期办结率」：系统统计为 0.0%，经核对更正为 100.0%（经核实按期答复）。" in page


def _fits_360(chromium, server, username: str, path: str) -> None:
    user = User(chromium, server, username, viewport={"width": 360, "height": 740})
    user.page.goto(server + path)
    user.page.wait_for_load_state("load")
    width = user.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    user.shot(f"phone360-{username}-circular-objection")
    assert width[0] <= width[1], f"{path} scrolls sideways at 360 px: {width}"
    assert "服务器内部错误" not in user.page.content() and user.errors == []
    user.context.close()


@pytest.mark.sqlite_only
@pytest.mark.browser
def test_the_check_and_resolution_pages_fit_360_px(zjtx, server, chromium):
    drafted(zjtx)
    with time_machine.travel(at("2026-11-09 10:00"), tick=False):  # within the window
        zjtx.workflows.complete(task(zjtx, "check_figures", CO)["id"], {"check_result": "objected", "objections": [
            {"figure": "overdue_now", "claimed": 0, "reason": "该事项已于期限内办结，系统未同步"}]}, liaison(CO))
        zjtx.workflows.complete(task(zjtx, "check_figures", WRONG)["id"], {"check_result": "confirmed"},
                                liaison(WRONG))
    lead_task = task(zjtx, "check_figures", LEAD)
    _fits_360(chromium, server, liaison(LEAD), f"/tasks/{lead_task['id']}")  # the open form, its own row
    with time_machine.travel(at("2026-11-09 11:00"), tick=False):
        zjtx.workflows.complete(lead_task["id"], {"check_result": "confirmed"}, liaison(LEAD))
    _fits_360(chromium, server, "dispatcher", f"/tasks/{task(zjtx, 'resolve_objections')['id']}")


@pytest.mark.sqlite_only
@pytest.mark.browser
def test_the_window_length_is_a_process_property_the_designer_edits(zjtx, server, chromium):
    designer = User(chromium, server, "designer", viewport={"width": 1366, "height": 900})
    designer.page.goto(f"{server}/designer/evaluation_circular/edit")
    designer.page.wait_for_selector("#designer[data-ready=true]", timeout=15000)
    window = designer.page.locator("[data-property=objection_window_working_days]")
    assert window.input_value() == "2"
    assert designer.page.locator("[data-property=rectification_working_days]").input_value() == "10"
    assert designer.errors == []
    designer.context.close()
