"""The bundled processes' diagrams in a real Chromium: each item page draws its process with lanes, the
open steps labelled with the department holding them and their deadline (late ones in red), automatic
steps drawn small and grey, zoomable, readable on a desk and fitted to a phone's width without the page
scrolling sideways; the designer opens every bundled process with its shapes on the canvas."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from lxml import etree

from tests.helpers import GOOD, Item, User, apply, register
from tools.layout_bpmn import BPMN

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DESK, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
LEAD, CO = "区人力社保局", "正阳工业园区管委会"


def elements(key: str, *tags: str) -> list[str]:
    root = etree.parse(str(ROOT / "processes" / f"{key}.bpmn")).getroot()
    return [e.get("id") for tag in tags for e in root.iter(f"{{{BPMN}}}{tag}")]


def start_each(zjtx) -> dict[str, int]:
    """One running instance of every bundled process; the dispatch one with its lead department late."""
    with time_machine.travel(datetime.now() - timedelta(days=21), tick=False):
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD, days=3, co={CO: 40})
        item.sign(LEAD)
        item.sign(CO)
    register(zjtx)
    year = datetime.now().year
    return {
        "problem_dispatch": item.id,
        "pool_admission": apply(zjtx)["id"],
        "evaluation_circular": zjtx.workflows.start("evaluation_circular", {"period_start": f"{year}-01-01",
                                                    "period_end": f"{year}-01-31"}, actor="dispatcher")["id"],
        "measure_supervision": zjtx.workflows.start("measure_supervision", {"measure_no": 2,
                                                    "period_start": f"{year}-01-01", "period_end": f"{year}-03-31"},
                                                    actor="dispatcher")["id"],
        "pool_data_update": zjtx.workflows.start("pool_data_update", {"enterprise_uscc": GOOD,
                                                 "update_year": year + 1}, actor="dispatcher")["id"],
    }


def open_steps(zjtx, instance_id: int) -> list[dict]:
    return zjtx.queries.tasks(instance_id=instance_id)


def check_item_page(user: User, zjtx, key: str, instance_id: int, size: str) -> None:
    page = user.page
    page.goto(f"{user.base}/items/{instance_id}")
    page.wait_for_selector("#diagram[data-rendered=true]", timeout=15000)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], \
        f"{key} ({size}) scrolls sideways"
    for lane in elements(key, "lane"):
        assert page.locator(f".djs-element[data-element-id={lane}]").count() == 1, f"{key}: lane {lane} not drawn"
    for step in elements(key, "scriptTask", "serviceTask"):
        assert page.locator(f".djs-element.zjtx-auto[data-element-id={step}]").count() == 1, step
    steps = open_steps(zjtx, instance_id)
    assert steps, f"{key}: no open step to show"
    for step in steps:
        holder = page.locator(f".djs-overlays[data-container-id={step['task']}] .zjtx-holder-line",
                              has_text=step["department"])
        assert holder.count() >= 1, f"{key}: {step['task']} does not say {step['department']} holds it"
        assert "前" in holder.first.inner_text() or "已逾期" in holder.first.inner_text()
    zoom = page.evaluate("window.zjtxViewer.get('canvas').zoom()")
    inner = page.evaluate("window.zjtxViewer.get('canvas').viewbox().inner.width")
    width = page.evaluate("document.getElementById('diagram').clientWidth")
    if size == "desk":
        assert zoom * 13 >= 12, f"{key}: labels of {zoom * 13:.1f} px at the first zoom"
    else:
        assert inner * zoom <= width + 1 and width <= page.viewport_size["width"], f"{key}: not fitted to the width"
    user.shot(f"diagram-{key}-{size}")
    page.click("[data-zoom=in]")
    assert page.evaluate("window.zjtxViewer.get('canvas').zoom()") > zoom


def test_every_bundled_process_renders_on_its_item_page(chromium, server, zjtx):
    started = start_each(zjtx)
    for size, viewport in (("desk", DESK), ("phone", PHONE)):
        user = User(chromium, server, "dispatcher", viewport=viewport)
        for key, instance_id in started.items():
            check_item_page(user, zjtx, key, instance_id, size)
        assert not user.errors, user.errors
        assert not user.foreign_requests(), user.foreign_requests()


def test_the_late_department_is_shown_late_on_the_diagram(chromium, server, zjtx):
    item_id = start_each(zjtx)["problem_dispatch"]
    user = User(chromium, server, "dispatcher", viewport=PHONE)
    page = user.page
    page.goto(f"{server}/items/{item_id}")
    page.wait_for_selector("#diagram[data-rendered=true]", timeout=15000)
    lines = page.locator(".djs-overlays[data-container-id=handle] .zjtx-holder-line")
    assert lines.count() == 2   # both departments hold a slot of the departments' sub-process
    late = page.locator(".djs-overlays[data-container-id=handle] .zjtx-holder-line.late")
    assert late.count() == 1 and LEAD in late.inner_text() and "已逾期" in late.inner_text()
    assert "个工作日" in late.inner_text()
    assert any(CO in t and "已逾期" not in t and "剩余" in t for t in lines.all_inner_texts())
    assert LEAD in page.locator("#diagram-now li.late").inner_text()   # in words too, readable unzoomed
    assert "办理答复" in page.locator("#diagram-now li.late").inner_text()
    assert page.locator(".djs-element.zjtx-overdue[data-element-id=handle]").count() == 1
    for done in ("triage", "dispatch", "sign"):   # the path taken stays marked
        assert page.locator(f".djs-element.zjtx-done[data-element-id={done}]").count() == 1, done
    assert page.locator(".djs-element[data-element-id=handle_by_departments]").count() == 1
    user.shot("diagram-problem_dispatch-late-phone")
    before = page.evaluate("window.zjtxViewer.get('canvas').zoom()")
    page.evaluate(PINCH)
    assert page.evaluate("window.zjtxViewer.get('canvas').zoom()") > before * 1.5   # two fingers apart zoom in


# Two touch pointers moving apart on the diagram, as a phone reports a pinch.
PINCH = """() => {
  const box = document.getElementById('diagram'), r = box.getBoundingClientRect(), y = r.top + r.height / 2;
  const send = (type, id, x) => box.dispatchEvent(new PointerEvent(type, {pointerId: id, pointerType: 'touch',
    clientX: x, clientY: y, bubbles: true, cancelable: true}));
  const mid = r.left + r.width / 2;
  send('pointerdown', 1, mid - 20); send('pointerdown', 2, mid + 20);
  for (let d = 20; d <= 80; d += 10) { send('pointermove', 1, mid - d); send('pointermove', 2, mid + d); }
  send('pointerup', 1, mid - 80); send('pointerup', 2, mid + 80);
}"""


def test_the_designer_opens_every_bundled_process(chromium, server, zjtx):
    designer = User(chromium, server, "designer", viewport=DESK)
    page = designer.page
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        page.goto(f"{server}/designer/{path.stem}/edit")
        page.wait_for_selector("#designer[data-ready=true]", timeout=15000)
        nodes = elements(path.stem, "userTask", "scriptTask", "serviceTask", "startEvent", "endEvent",
                         "exclusiveGateway", "lane")
        drawn = page.evaluate("ids => ids.filter(id => document.querySelector("
                              "`#canvas .djs-element[data-element-id='${id}']`)).length", nodes)
        assert drawn == len(nodes), f"{path.stem}: {drawn} of {len(nodes)} shapes on the canvas"
        visible = page.evaluate("document.querySelector('#canvas .djs-shape').getBoundingClientRect().width")
        assert visible > 0
        designer.shot(f"designer-{path.stem}-desk")
    assert not designer.errors, designer.errors
