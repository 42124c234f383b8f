"""Issue 19's whole 企业端 story in one chromium walk on a phone (390×844, touch, zh-CN), on a real server whose engine
sends real mail (the loopback SMTP server) and real text messages (the loopback SMS gateway) through the delivery
worker: the dispatcher invites the enterprise's contact, who opens the link of the mail received, accepts, signs in
with the mailed code; a second contact does the same by SMS. The contact submits a problem with a file and follows
it — accepted, dispatched (lead unit, deadline), answered — told by mail and SMS at 受理, 答复 and 办结; rates 不满意
(reopened), later 满意 (closed); checks its eligibility, applies to the pool, sees its admission in 公示 and on the
public page, and after the notice is told it is admitted. Every page: no sideways scroll, no script error, no request
to another host; screenshots test-output/browser/story-<step>.png."""
from __future__ import annotations

import re
import socket
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine.policy.enterprise_requests.following import PLAIN
from engine.policy.portal import EnterpriseAccounts
from engine.storage.models import Enterprise
from tests.helpers import BJ, INVITE_LINK, LOGIN_CODE, SHOTS, Item, register

pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}
LEAD = "区规划自然资源局"
MAIL, MOBILE = "zhang.manager@example.com", "13800001111"  # 张经理: invited by mail and SMS at once
SECOND = "13900002222"  # 王经理: invited by SMS only
PDF = b"%PDF-1.4 the enterprise's drawing"
ENTERPRISE = "重庆黔江某精密制造有限公司"


class Submitted(Item):
    """The item the page made, driven by staff through the service layer."""

    def __init__(self, zjtx, instance_id: int):  # not Item.__init__: that would register another item
        self.services, self.id = zjtx, instance_id
        self.key = zjtx.queries.show(instance_id)["business_key"]


class Story:
    """The engine (real mail and SMS), its server, and what reached the mail server and the gateway."""

    def __init__(self, engine, base: str, smtp, received: list):
        self.engine, self.base, self.smtp, self.received = engine, base, smtp, received

    def deliver(self) -> None:
        """The delivery worker's pass: every due outbox row leaves for the mail server or the gateway."""
        while self.engine.deliverer.deliver_due():
            pass

    def mails(self, address: str) -> list[str]:
        """Subject and plain body of each mail the SMTP server received for ``address``, oldest first."""
        return [f"{m['Subject']}\n{m.get_body(preferencelist=('plain',)).get_content()}"
                for rcpts, m in self.smtp.messages if address in rcpts]

    def texts(self, mobile: str) -> list[str]:
        return [body["content"] for _, body in self.received if body["mobile"] == mobile]

    def told(self, subject: str) -> tuple[str, str]:
        """The newest mail to 张经理 and text to its mobile whose first line starts with ``subject``."""
        self.deliver()
        mail = [m for m in self.mails(MAIL) if m.startswith(subject)]
        text = [t for t in self.texts(MOBILE) if t.startswith(subject)]
        assert mail and text, f"{subject}: mail {self.mails(MAIL)}, SMS {self.texts(MOBILE)}"
        return mail[-1], text[-1]


class Phone:
    """One browser context at 390×844 that records every request and script error."""

    def __init__(self, chromium, base: str):
        self.base = base
        self.context = chromium.new_context(locale="zh-CN", viewport=PHONE, has_touch=True)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def fits(self, step: str) -> str:
        """Check the page as a phone shows it and keep its screenshot; returns the text of <main>."""
        page = self.page
        page.wait_for_load_state("load")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{step} ({page.url}) scrolls sideways: {width}"
        assert not self.errors, self.errors
        foreign = [u for u in self.requests if not (u.startswith(self.base) or u.startswith("data:"))]
        assert not foreign, foreign
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"story-{step}.png"), full_page=True)
        return page.inner_text("main")

    def sign_in(self, story: Story, identifier: str, step: str, read_code, then: str = "/qiye/") -> None:
        """Ask for a code at /qiye/login (the address prefilled after accepting) and type the one received."""
        page = self.page
        if not page.url.startswith(f"{self.base}/qiye/login"):
            page.goto(f"{self.base}/qiye/login")
        if not page.input_value("input[name=identifier]"):
            page.fill("input[name=identifier]", identifier)
        self.fits(f"{step}-login")
        page.click("button[name=action][value=code]")
        page.wait_for_selector("input[name=code]")
        self.fits(f"{step}-code")
        story.deliver()
        page.fill("input[name=code]", read_code())
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{self.base}{then}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def story(clock, database_url, make_engine, smtp, sms_gateway):
    """The engine sending mail to ``smtp`` and texts to the gateway, its links pointing at its own server."""
    from werkzeug.serving import make_server

    from web import create_app

    url, received = sms_gateway
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(database_url, smtp_host="127.0.0.1", smtp_port=smtp.port, sms_gateway_url=url, base_url=base)
    http = make_server("127.0.0.1", port, create_app(services=engine), threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield Story(engine, base, smtp, received)
    finally:
        http.shutdown()
        engine.close()


def _link(message: str, base: str) -> str:
    found = re.search(r"(https?://\S+?/qiye/invite/[A-Za-z0-9_-]+)", message)
    assert found and found.group(1).startswith(base), message
    return found.group(1)


def _code(messages: list[str]) -> str:
    return LOGIN_CODE.search(messages[-1]).group(1)


def invite_and_sign_in(story: Story, chromium) -> Phone:
    """张经理 invited by mail and SMS at once, accepts from the mail and signs in with the mailed code; 王经理,
    invited by SMS only, accepts from the text and signs in with the texted code (a phone of its own)."""
    accounts = EnterpriseAccounts.of(story.engine)
    enterprise_id = register(story.engine)
    sent = accounts.invite("dispatcher", enterprise_id, {"contact_name": "张经理", "email": MAIL, "mobile": MOBILE})
    assert {s["channel"] for s in sent["sent"]} == {"email", "sms"}
    story.deliver()
    [invitation] = story.mails(MAIL)
    assert invitation.startswith("【企业账号邀请】") and INVITE_LINK.search(story.texts(MOBILE)[0])
    phone = Phone(chromium, story.base)
    phone.page.goto(_link(invitation, story.base))
    assert "zh***@example.com" in phone.fits("invite")
    phone.page.click("main form button[type=submit]")
    phone.page.wait_for_url(f"{story.base}/qiye/login")
    assert phone.page.input_value("input[name=identifier]") == MAIL
    phone.sign_in(story, MAIL, "mail", lambda: _code(story.mails(MAIL)))
    assert "张经理" in phone.fits("home") and ENTERPRISE in phone.page.inner_text("header")
    phone.page.goto(_link(story.texts(MOBILE)[0], story.base))  # the SMS link of the same invitation: used with it
    assert "该邀请链接已使用过" in phone.fits("invite-sms-link-used")
    phone.page.click("header .brand")
    phone.page.wait_for_url(f"{story.base}/qiye/")

    accounts.invite("dispatcher", enterprise_id, {"contact_name": "王经理", "mobile": SECOND})
    story.deliver()
    second = Phone(chromium, story.base)
    second.page.goto(_link(story.texts(SECOND)[-1], story.base))
    assert "139****2222" in second.fits("sms-invite")
    second.page.click("main form button[type=submit]")
    second.page.wait_for_url(f"{story.base}/qiye/login")
    second.sign_in(story, SECOND, "sms", lambda: _code(story.texts(SECOND)))
    assert "王经理" in second.page.inner_text("header")
    second.fits("sms-home")
    second.context.close()
    return phone


def submit(story: Story, phone: Phone, tmp_path) -> Submitted:
    page = phone.page
    page.click("header nav >> text=我的诉求")
    phone.fits("requests")
    page.click("text=提交诉求")
    assert MAIL in page.input_value("input[name=contact]") and MOBILE in page.input_value("input[name=contact]")
    phone.fits("request-new")
    page.select_option("select[name=category]", "用地")
    page.fill("textarea[name=description]", "二期厂房扩建缺少建设用地指标约 30 亩，请协调规划和园区解决。")
    drawing = tmp_path / "红线图.pdf"
    drawing.write_bytes(PDF)
    page.set_input_files("input[name=files]", str(drawing))
    page.click("form.req-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/qiye/items/\d+$"))
    shown = phone.fits("submitted")
    assert PLAIN["待研判"][0] in shown and PLAIN["待研判"][1] in shown and "红线图.pdf" in shown
    assert "尚未交办" in shown
    return Submitted(story.engine, int(page.url.rsplit("/", 1)[1]))


def facts(phone: Phone) -> dict[str, str]:
    """The item page's 事项编号 / 办理状态 / 主办单位 / 办理期限 … as shown."""
    terms = phone.page.locator(".req-facts dt").all_inner_texts()
    values = phone.page.locator(".req-facts dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


def follow(story: Story, phone: Phone, item: Submitted) -> None:
    """受理 (told), 交办 (lead unit and deadline shown), 答复 released (told, with the answer)."""
    page = phone.page
    item.accept()
    mail, text = story.told("【已受理】")
    assert item.key in mail and f"{story.base}/qiye/items/{item.id}" in mail and item.key in text
    page.reload()
    assert facts(phone)["办理状态"] == PLAIN["待交办"][0] and PLAIN["待交办"][1] in phone.fits("accepted")

    item.dispatch(LEAD, days=5)
    page.reload()
    shown = facts(phone)
    # before 签收 (due the next working day) the page shows the handling deadline the dispatch set: 5 working days
    assert _local_date(item.task("sign", LEAD)["due_at"]) == "2026-11-05"
    assert shown["办理状态"] == PLAIN["办理中"][0] and shown["主办单位"] == LEAD
    assert shown["办理期限"] == story.engine.calendars.add_working_days(date(2026, 11, 4), 5)["due"] == "2026-11-11"
    assert PLAIN["办理中"][1] in phone.fits("dispatched")
    page.click("text=返回我的诉求")
    listed = phone.fits("requests-dispatched")
    assert f"主办单位 {LEAD}" in listed and f"办理期限 {shown['办理期限']}" in listed
    page.click(f"text={item.key}")
    page.wait_for_url(re.compile(rf".*/qiye/items/{item.id}$"))

    item.sign(LEAD)
    page.reload()
    assert facts(phone)["办理期限"] == _local_date(item.task("handle", LEAD)["due_at"]) == shown["办理期限"]
    item.answer(LEAD, "已调剂建设用地指标 20 亩，请于 11 月底前报送用地申请。")
    page.reload()
    assert facts(phone)["办理状态"] == PLAIN["待审核"][0] and "尚无答复" in phone.fits("in-review")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    mail, text = story.told("【已答复】")
    assert "已调剂建设用地指标 20 亩" in mail and f"主办单位：{LEAD}" in mail and "已调剂建设用地指标" in text
    page.reload()
    shown = phone.fits("answered")
    assert facts(phone)["办理状态"] == PLAIN["待回访评价"][0] and "已调剂建设用地指标 20 亩" in shown
    assert page.is_visible("#rating")


def _local_date(due_at: str) -> str:
    from datetime import datetime

    return f"{datetime.fromisoformat(due_at).astimezone(BJ):%Y-%m-%d}"


def rate(story: Story, phone: Phone, item: Submitted) -> None:
    """不满意 with a comment: reopened; the rework released (told again); 满意: closed (told)."""
    page = phone.page
    page.check("input[name=solved][value=部分解决]")
    page.check("input[name=satisfied][value=不满意]")
    page.fill("textarea[name=rating_comment]", "只落实了 20 亩，还差 10 亩")
    phone.fits("rating-filled")
    page.click("#rating button[type=submit]")
    page.wait_for_url(re.compile(rf".*/qiye/items/{item.id}$"))
    shown = phone.fits("reopened")
    assert facts(phone)["办理状态"] == PLAIN["重办"][0] and PLAIN["重办"][1] in shown
    assert "只落实了 20 亩，还差 10 亩" in shown and not page.is_visible("#rating")
    assert item.task("rework", LEAD)

    item.rework(LEAD, "已追加调剂 10 亩，共 30 亩。")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    mail, _ = story.told("【已答复】")
    assert "已追加调剂 10 亩" in mail and len([m for m in story.mails(MAIL) if m.startswith("【已答复】")]) == 2
    page.reload()
    assert "第 2 次答复" in phone.fits("answered-again")
    page.check("input[name=solved][value=已解决]")
    page.check("input[name=satisfied][value=满意]")
    page.click("#rating button[type=submit]")
    page.wait_for_url(re.compile(rf".*/qiye/items/{item.id}$"))
    shown = phone.fits("closed")
    assert facts(phone)["办理状态"] == PLAIN["已办结"][0] and "办结日期" in facts(phone)
    assert item.show()["item_status"] == "已办结"
    mail, text = story.told("【已办结】")
    assert "您的评价：满意" in mail and item.key in text


def pool(story: Story, phone: Phone, clock) -> None:
    """The self-check, the application, its review and 公示 in plain words, the public notice from the portal,
    and the result told once the notice is over."""
    page = phone.page
    page.click("header nav >> text=培育入库")
    assert "符合培育入库条件" in page.inner_text("#self-check")
    phone.fits("pool")
    page.fill("textarea[name=apply_note]", "我司 2025 年研发投入占比 3%，申请列入培育库。")
    page.click("#apply button[type=submit]")
    page.wait_for_selector("#admission-words")
    assert page.inner_text("#admission-words") == "行业主管部门审核中"
    phone.fits("admission")
    [started] = story.engine.pool_portal.admissions(register_id(story))
    for step, who in (("industry_review", "commerce_commission_liaison"), ("commission_review", "dispatcher")):
        [task] = [t for t in story.engine.queries.tasks(instance_id=started["id"]) if t["task"] == step]
        story.engine.workflows.complete(task["id"], {"review_approved": True}, who)
        page.reload()
        phone.fits(f"admission-{step}")
    words = page.inner_text("#admission-words")
    assert words.startswith("公示中，公示期至 "), words
    page.click("text=返回培育入库")
    page.click("text=查看入库公示")
    page.wait_for_url(f"{story.base}/gongshi/")
    assert ENTERPRISE in phone.fits("gongshi")

    clock.shift(timedelta(days=8))  # past the notice's five working days
    from engine.scheduling.scheduler import Scheduler

    Scheduler(story.engine).run_until_idle()
    story.deliver()
    [result] = [m for m in story.mails(MAIL) if m.startswith("【培育入库】")]
    assert "已通过，列入培育库" in result and started["business_key"] in result
    admission = f"/qiye/pool/admissions/{started['id']}"
    page.goto(f"{story.base}{admission}")
    assert "/qiye/login" in page.url  # eight idle days ended the session: sign in again, and back to it
    phone.sign_in(story, MAIL, "again", lambda: _code(story.mails(MAIL)), then=admission)
    assert page.inner_text("#admission-words").startswith("已入库，有效期至 ")
    phone.fits("admitted")


def register_id(story: Story) -> int:
    with story.engine.db.read() as session:
        return session.scalar(select(Enterprise.id).where(Enterprise.name == ENTERPRISE))


def test_the_enterprise_story_on_a_phone(story, chromium, clock, tmp_path):
    phone = invite_and_sign_in(story, chromium)
    item = submit(story, phone, tmp_path)
    follow(story, phone, item)
    rate(story, phone, item)
    pool(story, phone, clock)
    phone.context.close()
