"""Each role's main job walked in Chromium on a desk (1366×768) and a phone (390×844), on one server per size:
the dispatcher registers and dispatches a problem; the lead liaison is told, follows the message's 去办理
link, sees the matter and signs with one tap, asks for an extension and the item stays in the inbox as
延期审批中; the dispatcher is told and approves it with one tap; the liaison is told and answers, the
co-handler signs and answers; the dispatcher reviews every answer and accepts; the service officer is
told and rates, the item closes; the dispatcher drafts last month's circular from /circulars/, the office
is told, approves it from its rendered draft with one tap and it is published with its number.

On every page: no sideways scroll, no script error, no 500, no request off the server; on a task page the
matter card is visible. Screenshots: test-output/browser/walk-<size>-<NN>-<page>.png.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from tests.helpers import BJ, Item, User, head, liaison, visit

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser, pytest.mark.slow]
SIZES = {"desk": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
LEAD, CO, PAST = "区科技局", "区人力社保局", "区财政局"
ENTERPRISE = "重庆黔江某智能装备有限公司"
DESCRIPTION = "新建智能产线需要增加10千伏专线供电，现有线路容量不足，影响年底投产。"
SOURCE = "联席会议"
REASON = "需报市电力公司审批线路改造方案"
TASK_PAGE = re.compile(r"/tasks/\d+$")
LAST_MONTH = (datetime.now(BJ).date().replace(day=1) - timedelta(days=1)).replace(day=10)


class Walk:
    """The people of one walk, each in a browser window of the walk's size, and the checks every page passes."""

    def __init__(self, chromium, server: str, size: str):
        self.chromium, self.server, self.size = chromium, server, size
        self.users: dict[str, User] = {}
        self.count = 0
        self.failures: dict[str, list[str]] = {}
        self.zjtx = None  # the engine, for what the walk reads without a page (a deadline)

    def user(self, username: str) -> User:
        if username not in self.users:
            user = User(self.chromium, self.server, username, viewport=SIZES[self.size])
            failures = self.failures.setdefault(username, [])
            user.page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
            self.users[username] = user
        return self.users[username]

    def check(self, user: User, label: str) -> None:
        """The page ``user`` is on passes the checks of every page; its screenshot is taken."""
        page = user.page
        page.wait_for_load_state("load")
        self.count += 1
        user.shot(f"walk-{self.size}-{self.count:02d}-{label}")
        where = f"{user.name} {page.url} at {self.size}"
        scroll, width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= width + 1, f"{where} scrolls sideways: {scroll} > {width} px"
        assert user.errors == [], f"{where}: script errors {user.errors}"
        assert user.foreign_requests() == [], f"{where}: requests off the server {user.foreign_requests()}"
        assert self.failures[user.name] == [], f"{where}: server errors {self.failures[user.name]}"
        assert page.locator("p.error-message").count() == 0, f"{where}: {page.locator('main').inner_text()[:300]}"
        if TASK_PAGE.search(page.url):
            expect(page.locator("section.card.matter")).to_be_visible()

    def go(self, username: str, path: str, label: str) -> User:
        user = self.user(username)
        user.page.goto(self.server + path)
        self.check(user, label)
        return user

    def follow_notice(self, username: str, headline: str, label: str, about: str = ENTERPRISE) -> User:
        """On /notifications the message 「headline：about…」 is there; its 去办理 opens a task page."""
        user = self.go(username, "/notifications", f"{label}-notice")
        message = user.page.locator("article.message", has=user.page.locator(f"h3:text-matches('^{headline}：{about}')"))
        expect(message.first).to_be_visible()
        link = message.first.locator("a.button:text-is('去办理')")
        assert TASK_PAGE.search(link.get_attribute("href") or "")
        link.click()
        user.page.wait_for_url(TASK_PAGE)
        self.check(user, label)
        return user

    def press(self, user: User, name: str, value: str, done: str, label: str) -> None:
        """One tap on a decision button of the task form; the page after it says ``done``."""
        user.page.click(f"form.task-form button[name={name}][value={value}]")
        expect(user.page.locator(".flash", has_text=done)).to_be_visible()
        self.check(user, label)

    def open_from_inbox(self, username: str, tab: str, step: str, label: str) -> User:
        user = self.go(username, f"/?tab={tab}", f"{label}-inbox")
        user.page.click(f"table.tasks tbody tr:has(td.step:text-is('{step}')) td.title a")
        user.page.wait_for_url(TASK_PAGE)
        self.check(user, label)
        return user

    def close(self) -> None:
        for user in self.users.values():
            user.context.close()


def matter(user: User):
    return user.page.locator("section.card.matter")


def register_and_dispatch(walk: Walk) -> None:
    """The dispatcher registers the problem on /console, accepts it and dispatches it to a lead and a co-handler."""
    dispatcher = walk.go("dispatcher", "/console", "dispatcher-console")
    page = dispatcher.page
    page.fill("input[name=enterprise_name]", ENTERPRISE)
    page.check("input[name=category][value=用能]")
    page.fill("textarea[name=description]", DESCRIPTION)
    page.check(f"input[name=source][value={SOURCE}]")
    page.fill("input[name=contact]", "李经理 13900000000")
    page.click("button:text-is('登记')")
    page.wait_for_url(TASK_PAGE)
    walk.check(dispatcher, "dispatcher-triage")
    expect(matter(dispatcher)).to_contain_text(DESCRIPTION)
    walk.press(dispatcher, "triage_decision", "accept", "", "dispatcher-accepted")
    dispatcher = walk.open_from_inbox("dispatcher", "all", "交办", "dispatcher-dispatch")
    page.select_option("select[name=lead_department]", LEAD)
    page.fill("input[name=lead_due_working_days]", "5")
    expect(page.locator(".due-preview", has_text="到期日").first).to_be_visible()
    page.select_option("select[name='co_handlers-0-department']", CO)
    page.fill("input[name='co_handlers-0-due_working_days']", "3")
    walk.check(dispatcher, "dispatcher-dispatch-filled")
    page.click("form.task-form button[type=submit]:visible")
    expect(page.locator(".flash", has_text="已交办，等待各承办单位签收")).to_be_visible()
    walk.check(dispatcher, "dispatcher-dispatched")


def lead_signs_and_asks_for_more_time(walk: Walk) -> str:
    """The lead liaison follows 新交办 to the sign page, signs with one tap, requests an extension."""
    lead = walk.follow_notice(liaison(LEAD), "新交办", "liaison-sign")
    card = matter(lead)
    for shown in (DESCRIPTION, ENTERPRISE, SOURCE):
        expect(card).to_contain_text(shown)
    expect(card.locator(".role-badge:text-is('主办')")).to_be_visible()
    button = lead.page.locator("form.task-form button[name=sign_decision][value=sign]")
    assert (button.bounding_box() or {}).get("height", 0) >= 44
    walk.press(lead, "sign_decision", "sign", "已签收，请在期限内办理答复", "liaison-signed")
    lead = walk.open_from_inbox(liaison(LEAD), "in_progress", "办理答复", "liaison-handle")
    page = lead.page
    page.click("details.decision-more > summary:text-is('申请延期')")
    [handle] = [t for t in walk.zjtx.queries.tasks(status="all") if t["task"] == "handle" and t["department"] == LEAD]
    # Two days past the deadline: the dispatcher's to decide (longer ones go to the office).
    until = (datetime.fromisoformat(handle["due_at"]).astimezone(BJ).date() + timedelta(days=2)).isoformat()
    page.fill("textarea[name=extension_reason]", REASON)
    page.fill("input[name=extension_due_date]", until)
    walk.check(lead, "liaison-extension-request")
    walk.press(lead, "handle_action", "request_extension", "延期申请已提交，等待交办员审批", "liaison-extension-sent")
    walk.go(liaison(LEAD), "/?tab=in_progress", "liaison-inbox-waiting")
    waiting = page.locator("table.tasks tbody tr", has=page.locator("td.step:text-is('办理答复')"))
    expect(waiting.locator("td.state")).to_have_text("延期审批中")
    return until


def dispatcher_approves_the_extension(walk: Walk, until: str) -> None:
    dispatcher = walk.follow_notice("dispatcher", "延期申请", "dispatcher-extension")
    request = dispatcher.page.locator(".matter-section.highlight", has=dispatcher.page.locator("h3:text-is('延期申请')"))
    for shown in (REASON, until):
        expect(request).to_contain_text(shown)
    expect(request).to_contain_text(re.compile(r"延长 \d+ 个工作日"))
    walk.press(dispatcher, "extension_approved", "true", "已同意延期", "dispatcher-extension-approved")


def both_departments_answer(walk: Walk) -> None:
    lead = walk.follow_notice(liaison(LEAD), "延期已批准", "liaison-answer")
    expect(lead.page.locator("form.task-form textarea[name=answer]")).to_be_visible()
    lead.page.fill("textarea[name=answer]", "已协调市电力公司，专线改造方案已批复，12月底前完成施工。")
    walk.press(lead, "handle_action", "answer", "答复已提交，经本单位负责人审核同意后报出", "liaison-answered")
    co = walk.follow_notice(liaison(CO), "新交办", "co-sign")
    expect(matter(co).locator(".role-badge:text-is('协办')")).to_be_visible()
    expect(matter(co)).to_contain_text(DESCRIPTION)
    walk.press(co, "sign_decision", "sign", "已签收，请在期限内办理答复", "co-signed")
    co = walk.open_from_inbox(liaison(CO), "in_progress", "办理答复", "co-handle")
    co.page.fill("textarea[name=answer]", "已组织电工技能培训，保障产线用工。")
    walk.press(co, "handle_action", "answer", "答复已提交，经本单位负责人审核同意后报出", "co-answered")
    # The co-handler's head signs its part off; the lead unit consolidates one answer; its head signs it off.
    co_head = walk.follow_notice(head(CO), "答复待负责人审核", "co-head-sign-off")
    expect(matter(co_head)).to_contain_text("已组织电工技能培训")
    walk.press(co_head, "head_decision", "approve", "已审核同意，答复已报出", "co-head-signed-off")
    lead = walk.follow_notice(liaison(LEAD), "待主办汇总", "liaison-consolidate")
    expect(matter(lead)).to_contain_text("已组织电工技能培训")
    lead.page.fill("textarea[name=consolidated_answer]",
                   "已协调市电力公司，专线改造方案已批复，12月底前完成施工；已组织电工技能培训，保障产线用工。")
    walk.press(lead, "consolidate_action", "answer", "汇总答复已提交", "liaison-consolidated")
    lead_head = walk.follow_notice(head(LEAD), "答复待负责人审核", "head-sign-off")
    walk.press(lead_head, "head_decision", "approve", "已审核同意，答复已报出", "head-signed-off")


def review_rate_and_close(walk: Walk) -> None:
    dispatcher = walk.follow_notice("dispatcher", "答复待审核", "dispatcher-review")
    card = matter(dispatcher)
    for shown in ("专线改造方案已批复", "已组织电工技能培训", LEAD, CO):
        expect(card).to_contain_text(shown)
    item_link = dispatcher.page.get_attribute("a:text-is('查看流程图与全部记录')", "href")
    walk.press(dispatcher, "review_decision", "accept", "审核通过，请回访企业评价", "dispatcher-reviewed")
    officer = walk.follow_notice("officer", "待回访", "officer-rating")
    officer.record_visit("满意", "已解决")
    expect(officer.page.locator(".flash", has_text="回访评价已提交")).to_be_visible()
    walk.check(officer, "officer-rated")
    item = walk.go("dispatcher", item_link, "dispatcher-item-closed")
    expect(item.page.locator("dd", has_text="已办结").first).to_be_visible()
    item.page.wait_for_selector("#diagram[data-rendered=true]", timeout=15000)
    walk.check(item, "dispatcher-item-diagram")


def office_approves_a_circular(walk: Walk) -> None:
    dispatcher = walk.go("dispatcher", "/circulars/", "dispatcher-circulars")
    page = dispatcher.page
    expect(page.locator("input[name=month]")).to_have_value(LAST_MONTH.strftime("%Y-%m"))  # the page's default
    page.click("#draft button:text-is('起草通报')")
    expect(page.locator(".flash", has_text="已生成通报初稿")).to_be_visible()
    walk.check(dispatcher, "dispatcher-circular-drafted")
    dispatcher = walk.open_from_inbox("dispatcher", "all", "起草通报", "dispatcher-circular-edit")
    assert len(page.input_value("textarea[name=circular_text]")) > 20
    page.click("form.task-form button[type=submit]:visible")
    expect(page.locator(".flash", has_text="报领导小组办公室审批")).to_be_visible()
    walk.check(dispatcher, "dispatcher-circular-submitted")
    # The unit in last month's table is told to check its row (the objection window) and confirms it.
    unit = walk.follow_notice(liaison(PAST), "通报数据待核对", "unit-check", about=f"{LAST_MONTH:%Y-%m}-01 至")
    expect(matter(unit)).to_contain_text(f"本单位在通报附表中的数据（{PAST}）")
    walk.press(unit, "check_result", "confirmed", "已确认本单位数据无误", "unit-confirmed")
    office = walk.follow_notice("office", "通报待审批", "office-approve", about=f"{LAST_MONTH:%Y-%m}-01 至")
    draft = matter(office)
    expect(draft.locator(".doc-title")).to_be_visible()
    assert draft.locator("p.doc-p").count() >= 2 and draft.locator(".doc-heading").count() >= 2
    title = draft.locator(".doc-title").inner_text()
    walk.press(office, "circular_approved", "true", "已同意发布，通报已编号发布", "office-approved")
    walk.go("office", "/circulars/", "office-circulars")
    row = office.page.locator("tr", has=office.page.locator(f"a:text-is('{title}')"))
    expect(row.locator("td[data-label=状态]")).to_have_text("已发布")
    number = row.locator("td[data-label=文号]").inner_text()
    assert number and "未编号" not in number, number
    row.locator("a").click()
    office.page.wait_for_url(re.compile(r"/circulars/\d+$"))
    expect(office.page.locator(".doc-number")).to_have_text(number)
    expect(office.page.locator("article.circular")).to_contain_text("领导小组办公室 发布")  # a name, not a login
    department = office.page.locator("article.circular table td", has_text=PAST).first
    expect(department).to_be_visible()
    assert (department.bounding_box() or {}).get("width", 0) >= 80  # columns are not squeezed on a phone
    walk.check(office, "office-circular-published")


def last_months_item(zjtx) -> None:
    """A problem of last month, closed: last month's circular has figures (PAST's row)."""
    with time_machine.travel(datetime.combine(LAST_MONTH, time(10), BJ), tick=False):
        item = Item(zjtx)
        item.to_review(PAST)
        item.do("review", {"review_decision": "accept"}, "dispatcher")
        item.do("rating", visit(), "officer")


@pytest.mark.parametrize("size", list(SIZES))
def test_each_roles_main_job_on_a_desk_and_a_phone(chromium, server, zjtx, size):
    last_months_item(zjtx)
    walk = Walk(chromium, server, size)
    walk.zjtx = zjtx
    try:
        register_and_dispatch(walk)
        until = lead_signs_and_asks_for_more_time(walk)
        dispatcher_approves_the_extension(walk, until)
        both_departments_answer(walk)
        review_rate_and_close(walk)
        office_approves_a_circular(walk)
    finally:
        walk.close()
