"""Task pages show the matter above the form (description, enterprise and contact, source, the
department's role, what is asked, the Beijing deadline) and what the step decides on (the extension
request, every answer, the return reason, the circular draft); common decisions are one button,
refusals need a reason; flashes say what was done; the status is current; the history names people."""
from __future__ import annotations

import re

import pytest
import time_machine

from tests.helpers import REGISTRATION, Browser, Item, at, counts, liaison, short_extension

pytestmark = pytest.mark.sqlite_only
LEAD, CO = "区科技局", "区财政局"
CONTACT = "王经理 13800000000"
NOTE = "请会同规划部门一周内拿出用地指标方案"



def dispatched(zjtx) -> Item:
    item = Item(zjtx, {**REGISTRATION, "contact": CONTACT})
    item.accept()
    item.do("dispatch", {"lead_department": LEAD, "lead_due_working_days": 5, "dispatch_note": NOTE,
                         "co_handlers": [{"department": CO, "due_working_days": 3}]}, "dispatcher")
    return item


def page_of(b: Browser, task: dict) -> str:
    response = b.get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def matter_of(html: str) -> str:
    """The matter card, which comes before the form."""
    found = re.search(r'<section class="card matter".*?</section>', html, re.S)
    assert found, "no matter card"
    assert html.index('class="card matter"') < html.index('class="card task-action"')
    return found.group(0)


def post(b: Browser, task: dict, data: dict):
    """Submit the task's form as the page does (with the page's CSRF token)."""
    b.get(f"/tasks/{task['id']}")
    return b.post(f"/tasks/{task['id']}", data)


def flash_after(b: Browser, task: dict, data: dict) -> str:
    response = post(b, task, data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return b.get("/").get_data(as_text=True)


def assert_the_matter(html: str, role: str | None) -> None:
    card = matter_of(html)
    for shown in (REGISTRATION["description"], REGISTRATION["enterprise_name"], CONTACT, REGISTRATION["source"],
                  "（北京时间）"):
        assert shown in card, shown
    assert re.search(r"期限：<b>\d{4}-\d\d-\d\d \d\d:\d\d</b>", card)
    if role:
        assert f'>{role}</span>' in card and NOTE in card


def test_the_sign_page_shows_the_matter_and_the_role_and_signs_with_one_button(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        item = dispatched(zjtx)
        lead, co = pages(liaison(LEAD)), pages(liaison(CO))
        html = page_of(lead, item.task("sign", LEAD))
        assert_the_matter(html, "主办")
        assert "期限：<b>2026-11-05 23:59</b>" in html and "剩余 1 个工作日" in html
        assert 'name="sign_decision" value="sign"' in html and "<summary>退回</summary>" in html
        assert_the_matter(page_of(co, item.task("sign", CO)), "协办")
        assert "配合主办单位（区科技局）办理" in page_of(co, item.task("sign", CO))
        # One tap: the button's own name and value are the whole submission.
        flash = flash_after(lead, item.task("sign", LEAD), {"sign_decision": "sign"})
        assert "已签收，请在期限内办理答复" in flash
        handle = page_of(lead, item.task("handle", LEAD))
        assert "办理中</dd>" in handle and "办理答复（区科技局，办理中）" in handle
        assert "签收（区财政局，待签收）" in handle


def test_a_return_needs_a_reason_and_the_dispatcher_sees_it_on_redispatch(zjtx, pages):
    item = dispatched(zjtx)
    b, sign = pages(liaison(LEAD)), item.task("sign", LEAD)
    before = counts(zjtx, item.id)
    refused = post(b, sign, {"sign_decision": "return"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "「退回理由」为必填项" in body
    assert '<details class="decision-more" open>' in body  # the reason box stays open to fill in
    assert counts(zjtx, item.id) == before and item.task("sign", LEAD)["status"] == "to_sign"
    flash = flash_after(b, sign, {"sign_decision": "return", "return_reason": "不属本单位职责，应由规划部门办理"})
    assert "已退回，等待交办员重新交办" in flash
    html = page_of(pages("dispatcher"), item.task("redispatch"))
    assert_the_matter(html, None)
    card = matter_of(html)
    assert "退回情况" in card and "不属本单位职责，应由规划部门办理" in card
    assert "退回单位</dt><dd>区科技局" in card and "区科技局联络员" in card


def test_an_extension_request_is_flashed_as_such_and_shown_to_the_dispatcher(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        item = dispatched(zjtx)
        b = pages(liaison(LEAD))
        item.sign(LEAD)
        flash = flash_after(b, item.task("handle", LEAD), {
            "handle_action": "request_extension", "extension_reason": "需报市规划局审批",
            "extension_due_date": "2026-11-18"})
        assert "延期申请已提交，等待交办员审批" in flash and "「办理答复」已提交" not in flash
        dispatcher = pages("dispatcher")
        decide = item.task("decide_extension")
        html = page_of(dispatcher, decide)
        card = matter_of(html)
        assert_the_matter(html, None)
        for shown in ("延期申请", "区科技局（主办）", "区科技局联络员，2026-11-04 10:00", "现办理期限</dt><dd>2026-11-11",
                      "申请延期至</dt><dd>2026-11-18", "延长 5 个工作日", "需报市规划局审批"):
            assert shown in card, shown
        assert "审批延期申请（区经济信息委，办理中）" in card
        assert "role-badge" not in card and "本单位为主办单位" not in card  # the dispatcher's step, not the slot's
        before = counts(zjtx, item.id)
        refused = post(dispatcher, decide, {"extension_approved": "false"})
        assert refused.status_code == 400 and "「审批意见」为必填项" in refused.get_data(as_text=True)
        assert counts(zjtx, item.id) == before
        assert "已同意延期" in flash_after(dispatcher, decide, {"extension_approved": "true"})
        handle = page_of(b, item.task("handle", LEAD))
        assert "期限：<b>2026-11-18 23:59</b>" in handle and "延期申请记录" in handle and "已同意" in handle


def test_the_review_shows_every_answer_and_a_send_back_needs_a_reason(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        item = dispatched(zjtx)
        for department in (LEAD, CO):
            item.sign(department)
        item.answer(CO, "财政局已安排专项资金")
        item.answer(LEAD, "科技局已协调规划指标")
        item.consolidate(LEAD, "科技局汇总：已协调规划指标，财政局已安排专项资金")  # 主办汇总
        dispatcher = pages("dispatcher")
        review = item.task("review")
        html = page_of(dispatcher, review)
        card = matter_of(html)
        assert "各单位答复" in card and "待审核</dd>" in card
        for department, role, text in ((LEAD, "主办", "科技局已协调规划指标"), (CO, "协办", "财政局已安排专项资金")):
            assert re.search(f"<b>{department}</b> <span class=\"role-badge\">{role}</span> 答复 "
                             f"<span class=\"muted\">{department}联络员 · 2026-11-04 10:00</span>", card)
            assert text in card
        assert 'name="review_decision" value="accept"' in html
        before = counts(zjtx, item.id)
        refused = post(dispatcher, review, {"review_decision": "send_back"})
        assert refused.status_code == 400 and "「退办理由」为必填项" in refused.get_data(as_text=True)
        assert counts(zjtx, item.id) == before
        assert "已退办问题所在单位整改" in flash_after(dispatcher, review, {"review_decision": "send_back",
                                                                       "review_reason": "请补充时间表"})
        rework = page_of(pages(liaison(LEAD)), item.task("rework"))
        assert "整改要求" in rework and "请补充时间表" in rework and "退办整改</dd>" in rework
        item.rework(LEAD, "时间表：12 月底前完成")
        again = matter_of(page_of(dispatcher, item.task("review")))
        assert "整改答复" in again and "时间表：12 月底前完成" in again and "审核退办" in again
        assert "审核通过，请回访企业评价" in flash_after(dispatcher, item.task("review"),
                                                        {"review_decision": "accept"})
        rating = matter_of(page_of(pages("officer"), item.task("rating")))
        assert "科技局已协调规划指标" in rating and "回访评价（区经济信息委，办理中）" in rating


def test_an_overdue_step_says_so_and_the_history_names_the_system_and_people(zjtx, pages):
    from engine.scheduling.scheduler import Scheduler

    with time_machine.travel(at("2026-11-04 10:00"), tick=False) as clock:
        item = dispatched(zjtx)
        clock.move_to(at("2026-11-09 10:00"))  # the sign deadline (11-05) is 2 working days past
        Scheduler(zjtx).run_until_idle()
        html = page_of(pages(liaison(LEAD)), item.task("sign", LEAD))
    assert "已逾期 2 个工作日" in html and "剩余 -" not in html
    timeline = html.split("办理记录", 1)[1]
    assert "<b>系统</b>" in timeline and "<b>system</b>" not in timeline
    assert "<b>区经济信息委交办员</b> 办理 交办" in timeline
    assert "<b>区经济信息委交办员</b> 生成待办" not in timeline  # a new step is no one's act
    assert f"协办单位：{CO}，协办期限（工作日） 3" in timeline  # not 协办单位：协办单位 区财政局


def test_the_office_approves_a_circular_from_its_rendered_draft(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        [draft] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "draft"]
        text = zjtx.queries.show(started["id"])["data"]["circular_text"]
        dispatcher, office = pages("dispatcher"), pages("office")
        assert "报领导小组办公室审批" in flash_after(dispatcher, draft, {"circular_text": text})
        [approve] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "approve"]
        html = page_of(office, approve)
        card = matter_of(html)
        assert '<h4 class="doc-title">关于2026年10月“专精特新”企业问题交办办理情况的通报</h4>' in card
        assert '<h5 class="doc-heading">一、总体情况</h5>' in card and '<h5 class="doc-heading">四、通报批评</h5>' in card
        assert card.count('<p class="doc-p">') >= 3  # paragraphs, not one run-on block
        assert "待审批</dd>" in card
        assert 'name="circular_approved" value="true"' in html and "<summary>退回修改</summary>" in html
        refused = post(office, approve, {"circular_approved": "false"})
        assert refused.status_code == 400 and "「审批意见」为必填项" in refused.get_data(as_text=True)
        assert "通报已退回修改" in flash_after(office, approve, {"circular_approved": "false",
                                                                "approval_comment": "请补充目标进展"})
        [again] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "draft"]
        assert "请补充目标进展" in matter_of(page_of(dispatcher, again))


def test_a_draft_with_ranked_departments_renders_its_lists(zjtx, pages):
    # A period with work in it gives the draft ranked lists; the page answered 500 for them (_item.html).
    with time_machine.travel(at("2026-10-12 10:00"), tick=False):
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD, days=3)
        item.sign(LEAD)
        item.answer(LEAD, "已办理完毕")
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        draft = open_task(zjtx, started["id"], "draft")
        text = zjtx.queries.show(started["id"])["data"]["circular_text"]
        flash_after(pages("dispatcher"), draft, {"circular_text": text})
        # 区科技局, in the table, confirms its row first (the objection window, test_circular_objections)
        zjtx.workflows.complete(open_task(zjtx, started["id"], "check_figures")["id"], {"check_result": "confirmed"},
                                liaison(LEAD))
        html = page_of(pages("office"), open_task(zjtx, started["id"], "approve"))
        card = matter_of(html)
        assert '<ul class="doc-list">' in card and LEAD in card


def open_task(zjtx, instance_id: int, bpmn_id: str) -> dict:
    [task] = [t for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == bpmn_id]
    return task


@pytest.mark.usefixtures("clock")
def test_the_admission_and_data_update_steps_show_what_they_decide_on(zjtx, pages):
    from tests.helpers import GOOD, apply, register

    register(zjtx)
    started = apply(zjtx)
    review = open_task(zjtx, started["id"], "industry_review")
    liaison_b = pages("commerce_commission_liaison")
    card = matter_of(page_of(liaison_b, review))
    assert "资格自动判定" in card and GOOD in card and "符合培育入库条件" in card and "资格审查</dd>" in card
    assert "已同意入库" in flash_after(liaison_b, review, {"review_approved": "true"})
    commission = open_task(zjtx, started["id"], "commission_review")
    card = matter_of(page_of(pages("dispatcher"), commission))
    assert "行业主管部门意见" in card and "是否同意</dt><dd>是" in card
    zjtx.workflows.complete(commission["id"], {"review_approved": True}, "dispatcher")
    notice = open_task(zjtx, started["id"], "public_notice")
    assert "公示截止" in matter_of(page_of(pages("dispatcher"), notice))
    zjtx.workflows.complete(notice["id"], {"objection": "有企业反映其研发投入数据不实"}, "dispatcher")
    card = matter_of(page_of(pages("office"), open_task(zjtx, started["id"], "resolve_objection")))
    assert "有企业反映其研发投入数据不实" in card and "公示中</dd>" in card

    update = zjtx.workflows.start("pool_data_update", {"enterprise_uscc": GOOD, "update_year": 2027},
                                  actor="dispatcher")
    card = matter_of(page_of(pages("officer"), open_task(zjtx, update["id"], "update_data")))
    assert "更新年度</dt><dd>2027" in card and "截止日期</dt><dd>2027-04-30" in card and "待更新</dd>" in card


def test_the_measure_steps_show_the_contributions_and_the_report(zjtx, pages):
    from tests.helpers import head

    with time_machine.travel(at("2026-10-08 09:00"), tick=False):
        started = zjtx.workflows.start("measure_supervision", {"measure_no": 2, "period_start": "2026-07-01",
                                                               "period_end": "2026-09-30"}, actor="dispatcher")
        contributions = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "contribute"]
        for t in contributions:
            user = "economy_info_commission_liaison" if t["department"] == "区经济信息委" else liaison(t["department"])
            card = matter_of(page_of(pages(user), t))
            assert "第 2 项" in card and "牵头单位</dt><dd>区科技局" in card and "报送中</dd>" in card
            zjtx.workflows.complete(t["id"], {"contribution_text": f"{t['department']}：完成平台建设任务"}, user)
        consolidate = open_task(zjtx, started["id"], "consolidate")
        card = matter_of(page_of(pages(head("区科技局")), consolidate))
        assert "各责任单位报送" in card and all(f"{t['department']}：完成平台建设任务" in card for t in contributions)
        zjtx.workflows.complete(consolidate["id"], {"progress_report": "本季度新建孵化平台两个，运营良好。"},
                                head("区科技局"))
        assess = open_task(zjtx, started["id"], "assess")
        assert "本季度新建孵化平台两个" in matter_of(page_of(pages("dispatcher"), assess))
        zjtx.workflows.complete(assess["id"], {"assessment": "滞后", "assessment_comment": "平台入驻率低",
                                               "follow_up_working_days": 10}, "dispatcher")
        card = matter_of(page_of(pages(head("区科技局")), open_task(zjtx, started["id"], "follow_up")))
        assert "评定</dt><dd>滞后" in card and "平台入驻率低" in card


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("size", [(390, 844), (1366, 768)], ids=["phone", "desk"])
def test_a_liaison_signs_with_one_tap_and_the_dispatcher_sees_the_request(chromium, server, zjtx, size):
    from tests.helpers import User

    width, height = size
    item = dispatched(zjtx)
    handler = User(chromium, server, liaison(LEAD), viewport={"width": width, "height": height})
    page = handler.page
    page.goto(f"{server}/tasks/{item.task('sign', LEAD)['id']}")
    matter = page.locator("section.matter")
    assert matter.locator("text=" + REGISTRATION["description"]).is_visible()
    assert matter.locator(".role-badge:text-is('主办')").is_visible() and matter.locator(f"text={CONTACT}").is_visible()
    button = page.locator("button[name=sign_decision][value=sign]")
    box = button.bounding_box()
    assert box and box["height"] >= 44 and box["y"] < page.evaluate("document.body.scrollHeight")
    assert no_sideways_scroll(page)
    handler.shot(f"task-sign-{width}")
    button.click()  # one tap
    page.wait_for_selector("text=已签收，请在期限内办理答复")
    page.goto(f"{server}/tasks/{item.task('handle', LEAD)['id']}")
    page.click("details.decision-more > summary:text-is('申请延期')")
    page.fill("textarea[name=extension_reason]", "需报市规划局审批")
    until = short_extension(item, LEAD)  # within the dispatcher's limit
    page.fill("input[name=extension_due_date]", until)
    handler.shot(f"task-extension-request-{width}")
    page.click("button[name=handle_action][value=request_extension]")
    page.wait_for_selector("text=延期申请已提交，等待交办员审批")

    dispatcher = User(chromium, server, "dispatcher", viewport={"width": width, "height": height})
    dispatcher.page.goto(f"{server}/tasks/{item.task('decide_extension')['id']}")
    request = dispatcher.page.locator(".matter-section.highlight:has(h3:text-is('延期申请'))")
    assert request.locator("text=需报市规划局审批").is_visible() and request.locator(f"text={until}").is_visible()
    assert dispatcher.page.locator("section.matter").locator("text=" + REGISTRATION["description"]).is_visible()
    assert no_sideways_scroll(dispatcher.page)
    dispatcher.shot(f"task-extension-decision-{width}")
    dispatcher.page.click("button[name=extension_approved][value=true]")
    dispatcher.page.wait_for_selector("text=已同意延期")
    for user in (handler, dispatcher):
        assert not user.foreign_requests() and not user.errors, (user.foreign_requests(), user.errors)
