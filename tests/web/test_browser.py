"""The UI in a real headless Chromium (Debian's), served by our real server on loopback.

One enterprise problem goes from registration to close through the pages; every page is
screenshotted under test-output/browser/, and no page may request anything but our server.
"""
from __future__ import annotations

import pytest

from tests.helpers import User, head, liaison, visit

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser, pytest.mark.slow]
LEAD, CO = "区人力社保局", "正阳工业园区管委会"
LEAD_HANDLER = "human_resources_social_security_bureau_handler"


def decide(page, name: str, value: str) -> None:
    """Press a decision button of a task form (a choice is one button: 签收, 受理, 审核通过…)."""
    page.click(f"form.task-form button[name={name}][value={value}]")
    page.wait_for_load_state()


def test_one_problem_from_registration_to_close_in_the_browser(chromium, server, zjtx):
    dispatcher = User(chromium, server, "dispatcher")
    page = dispatcher.page
    page.goto(f"{server}/console")
    page.fill("input[name=enterprise_name]", "黔江某新材料科技有限公司")
    page.check("input[name=category][value=用工]")
    page.fill("textarea[name=description]", "新产线投产需招聘熟练技工约60人，本地招聘困难。")
    page.check("input[name=source][value=联席会议]")
    dispatcher.shot("01-console-register")
    page.click("button:text-is('登记')")
    page.wait_for_selector("form.task-form")
    dispatcher.shot("02-triage")
    decide(page, "triage_decision", "accept")
    dispatcher.open_task("in_progress", "交办")
    page.select_option("select[name=lead_department]", LEAD)
    page.fill("input[name=lead_due_working_days]", "10")
    page.wait_for_selector(".due-preview:has-text('到期日')")
    page.select_option("select[name='co_handlers-0-department']", CO)
    page.fill("input[name='co_handlers-0-due_working_days']", "5")
    dispatcher.shot("03-dispatch")
    dispatcher.submit()
    assert "已交办，等待各承办单位签收" in page.content()

    # The lead's liaison assigns the matter to the bureau's 承办人 (转办); the co-handler's liaison answers itself.
    for department, answer, assignee in ((LEAD, "已组织专场招聘会，企业招到技工58人。", LEAD_HANDLER),
                                         (CO, "园区已在招聘平台发布岗位。", None)):
        signer = User(chromium, server, liaison(department))
        signer.page.goto(f"{server}/?tab=to_sign")
        assert signer.page.locator("table.tasks tbody tr").count() == 1  # their own department's task only
        signer.shot(f"04-inbox-{signer.name}")
        signer.open_task("to_sign", "签收")
        if assignee:
            signer.page.select_option("select[name=handler]", assignee)
        decide(signer.page, "sign_decision", "sign")  # one tap (and the 承办人 chosen)
        doer = User(chromium, server, assignee) if assignee else signer
        doer.open_task("in_progress", "办理答复")
        doer.page.fill("textarea[name=answer]", answer)
        doer.shot(f"05-answer-{doer.name}")
        decide(doer.page, "handle_action", "answer")
        for user in {signer.name: signer, doer.name: doer}.values():
            assert not user.foreign_requests(), user.foreign_requests()
            assert not user.errors, user.errors
    # The co-handler's part leaves its unit signed off by its head; the lead consolidates; its head signs off.
    co_head = User(chromium, server, head(CO))
    co_head.open_task("in_progress", "负责人审核")
    assert "园区已在招聘平台发布岗位。" in co_head.page.content()
    decide(co_head.page, "head_decision", "approve")
    lead_handler = User(chromium, server, LEAD_HANDLER)
    lead_handler.open_task("in_progress", "主办汇总")
    assert "园区已在招聘平台发布岗位。" in lead_handler.page.content()
    lead_handler.page.fill("textarea[name=consolidated_answer]", "已组织专场招聘会，企业招到技工58人；园区已在招聘平台发布岗位。")
    lead_handler.shot("05-consolidate")
    decide(lead_handler.page, "consolidate_action", "answer")
    lead_head = User(chromium, server, head(LEAD))
    lead_head.open_task("in_progress", "负责人审核答复")
    decide(lead_head.page, "head_decision", "approve")

    dispatcher.open_task("in_progress", "审核答复")
    assert "已组织专场招聘会" in page.content()
    decide(page, "review_decision", "accept")
    officer = User(chromium, server, "officer")  # the 回访 is the service officer's, not the reviewer's
    officer.open_task("in_progress", "回访评价")
    officer.record_visit("满意", "已解决")
    [instance] = zjtx.queries.tasks(status="all", limit=1)
    shown = zjtx.queries.show(instance["instance_id"])
    assert (shown["status"], shown["item_status"]) == ("completed", "已办结")

    page.goto(f"{server}/items/{instance['instance_id']}")
    page.wait_for_selector("#diagram[data-rendered=true]", timeout=15000)
    assert page.locator(".djs-element.zjtx-done").count() >= 4  # the path taken is highlighted
    assert page.locator("text=办结归档").count() >= 1
    dispatcher.shot("06-instance-diagram")
    page.goto(f"{server}/dashboard")
    page.wait_for_selector("#by-department[data-rendered=true]", timeout=15000)
    dispatcher.shot("07-dashboard")
    page.goto(f"{server}/notifications")
    dispatcher.shot("08-notifications")
    assert not dispatcher.foreign_requests(), dispatcher.foreign_requests()
    assert not dispatcher.errors, dispatcher.errors


def test_a_designer_adds_a_step_with_a_deadline_and_it_reaches_the_inbox(chromium, server, zjtx):
    from tests.helpers import Item

    designer = User(chromium, server, "designer")
    page = designer.page
    page.goto(f"{server}/designer/problem_dispatch/edit")
    page.wait_for_selector("#designer[data-ready=true]", timeout=15000)
    # The designer inserts a user task between 办结归档 (close_item) and its end event.
    page.evaluate("""() => {
        const m = window.zjtxModeler, registry = m.get('elementRegistry'), modeling = m.get('modeling');
        const close = registry.get('close_item'), end = registry.get('end_closed');
        modeling.removeElements([registry.get('flow_close_end')]);
        const task = modeling.appendShape(close, {type: 'bpmn:UserTask'}, {x: end.x + 150, y: end.y + 150});
        modeling.connect(task, end);
        m.get('selection').select(task);
    }""")
    panel = page.locator("#properties")
    panel.locator("[data-property=name]").fill("归档确认")
    panel.locator("[data-property=name]").dispatch_event("change")
    for prop, value in (("department", "区经济信息委"), ("roles", "dispatcher"), ("stage", "review"),
                        ("due_working_days", "2"), ("clause", "四（二）")):  # problem_dispatch requires clauses
        panel.locator(f"[data-property={prop}]").fill(value)
        panel.locator(f"[data-property={prop}]").dispatch_event("change")
    designer.shot("09-designer-edit")
    page.fill("#note", "办结后增加归档确认")
    page.click("#deploy")
    page.wait_for_selector(".flash.deployed", timeout=15000)
    assert "已部署 企业问题交办 第 2 版" in page.locator("#report").inner_text()
    assert not designer.foreign_requests() and not designer.errors

    item = Item(zjtx)  # a new instance runs on version 2
    assert zjtx.queries.show(item.id)["version"] == 2
    item.to_review("区科技局")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    item.do("rating", visit(), "officer")
    [confirm] = [t for t in item.open_tasks() if t["name"] == "归档确认"]
    assert confirm["department"] == "区经济信息委" and confirm["due_at"] is not None
    dispatcher = User(chromium, server, "dispatcher")
    dispatcher.page.goto(f"{server}/?tab=in_progress")
    assert dispatcher.page.locator("table.tasks td:text-is('归档确认')").count() == 1
    dispatcher.shot("10-inbox-new-step")


def test_the_dmn_editor_loads_and_deploys_in_the_browser(chromium, server, zjtx):
    designer = User(chromium, server, "designer")
    page = designer.page
    page.goto(f"{server}/designer/dmn/cultivation_criteria.dmn/edit")
    page.wait_for_selector("#designer[data-ready=true]", timeout=15000)
    assert page.locator("text=上年研发投入占营业收入比重（%）").count() >= 1
    designer.shot("11-dmn-editor")
    page.click("#validate")
    page.wait_for_selector("#report .flash", timeout=15000)
    assert "校验通过" in page.locator("#report").inner_text()
    assert not designer.foreign_requests() and not designer.errors
