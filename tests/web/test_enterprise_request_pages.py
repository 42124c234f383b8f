"""企业端 诉求 pages (issue 19): a signed-in contact submits a problem with a file, sees it accepted and answered,
rates the answer 不满意 (the item reopens) and later 满意 (closed), each page saying what happens next; another
enterprise's contact gets 404 for the item and its rating form; a staff session is refused; a bad file is refused
by name and nothing is registered."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from engine.identity.authz import actor_for
from engine.storage.models import ProcessInstance
from tests.helpers import Browser, Item, enterprise_session, register, uscc, visit
from web import create_app

pytestmark = pytest.mark.sqlite_only
LEAD = "区规划自然资源局"
PDF = b"%PDF-1.4 the enterprise's drawing"
OTHER = uscc("91500114MA5U9QTH0")


@pytest.fixture
def app(zjtx):
    return create_app(services=zjtx, config={"TESTING": True})


class Submitted(Item):
    """The item the page made, driven by staff through the service layer."""

    def __init__(self, zjtx, instance_id: int):  # not Item.__init__: that would register another item
        self.services, self.id = zjtx, instance_id
        self.key = zjtx.queries.show(instance_id)["business_key"]


def submit(client: Browser, files=(("红线图.pdf", PDF),)):
    client.get("/qiye/requests/new")
    return client.post("/qiye/requests/new", {
        "category": "用地", "description": "二期厂房扩建缺少建设用地指标，请协调解决。",
        "contact": "张经理 contact@example.com", "files": [(io.BytesIO(body), name) for name, body in files]},
        content_type="multipart/form-data")


def text(response) -> str:
    return response.get_data(as_text=True)


def test_an_enterprise_submits_follows_and_rates_its_problem(app, zjtx, clock):
    client = enterprise_session(app, zjtx)
    listing = text(client.get("/qiye/requests/"))
    assert "提交诉求" in listing and "还没有事项" in listing
    form = text(client.get("/qiye/requests/new"))
    assert "用地" in form and "contact-" in form  # the contact prefilled from the signed-in contact
    made = submit(client)
    assert made.status_code == 302
    instance_id = int(re.search(r"/qiye/items/(\d+)", made.headers["Location"]).group(1))
    page = text(client.get(f"/qiye/items/{instance_id}"))
    assert "已提交，等待受理" in page and "红线图.pdf" in page and "1 个工作日内研判" in page
    assert "评价答复" not in page

    item = Submitted(zjtx, instance_id)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    page = text(client.get(f"/qiye/items/{instance_id}"))
    assert "已答复，请评价" in page and f"{LEAD}已办理完毕" in page and "评价答复" in page
    refused = client.post(f"/qiye/items/{instance_id}/rating", {"solved": "未解决", "satisfied": "不满意"})
    assert refused.status_code == 400 and "不满意时请写明" in text(refused)
    assert client.post(f"/qiye/items/{instance_id}/rating", {"solved": "未解决", "satisfied": "不满意",
                                                             "rating_comment": "指标没有落实"}).status_code == 302
    page = text(client.get(f"/qiye/items/{instance_id}"))
    assert "重新办理中" in page and "事项已转回承办单位重新办理" in page and "评价答复" not in page
    assert item.task("rework", LEAD)

    item.rework(LEAD, "已追加调剂指标")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    assert client.post(f"/qiye/items/{instance_id}/rating", {"solved": "已解决", "satisfied": "满意"}).status_code == 302
    page = text(client.get(f"/qiye/items/{instance_id}"))
    assert "已办结" in page and "已追加调剂指标" in page and "第 2 次答复" in page
    assert item.show()["item_status"] == "已办结"
    listing = text(client.get("/qiye/requests/"))
    assert item.key in listing and "已办结" in listing
    staff_page = text(Browser.signed_in(app, "dispatcher").get(f"/items/{instance_id}"))  # the staff side's history
    assert "企业（企业服务平台）" in staff_page and "审核通过，答复发布给企业" in staff_page and "红线图.pdf" in staff_page
    assert "企业联系人 张经理" in staff_page  # who sent the file, not a staff account


def test_an_enterprise_downloads_the_files_it_sent_and_no_other(app, zjtx, clock):
    client = enterprise_session(app, zjtx)
    instance_id = int(re.search(r"/qiye/items/(\d+)", submit(client).headers["Location"]).group(1))
    page = text(client.get(f"/qiye/items/{instance_id}"))
    [link] = re.findall(r'href="(/qiye/files/\d+)">红线图.pdf<', page)
    got = client.get(link)
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;") and "nosniff" in str(got.headers)
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    staff_file = zjtx.items.add_attachment(dispatcher, instance_id, "研判意见.pdf", b"%PDF-1.4 internal")
    assert "研判意见.pdf" not in text(client.get(f"/qiye/items/{instance_id}"))
    assert client.get(f"/qiye/files/{staff_file}").status_code == 404  # staff files are not the enterprise's
    assert client.get("/qiye/files/99999999999999999999").status_code == 404
    register(zjtx, uscc=OTHER, name="重庆黔江另一家企业有限公司")
    other = enterprise_session(app, zjtx, uscc=OTHER)
    assert other.get(link).status_code == 404
    assert Browser.signed_in(app, "dispatcher").get(link).status_code == 403
    assert Browser(app).get(link).status_code == 302  # no session: to the sign-in page


def test_another_enterprise_and_staff_are_refused(app, zjtx, clock):
    mine = enterprise_session(app, zjtx)
    instance_id = int(re.search(r"/qiye/items/(\d+)", submit(mine).headers["Location"]).group(1))
    item = Submitted(zjtx, instance_id)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    register(zjtx, uscc=OTHER, name="重庆黔江另一家企业有限公司")
    other = enterprise_session(app, zjtx, uscc=OTHER)
    assert other.get(f"/qiye/items/{instance_id}").status_code == 404
    assert other.post(f"/qiye/items/{instance_id}/rating", {"solved": "已解决", "satisfied": "满意"}).status_code == 404
    assert item.key not in text(other.get("/qiye/requests/"))
    assert item.task("rating")  # still waiting for its own enterprise
    staff = Browser.signed_in(app, "dispatcher")
    for url in ("/qiye/requests/", "/qiye/requests/new", f"/qiye/items/{instance_id}"):
        assert staff.get(url).status_code == 403
    # The service officer's 回访 still works for an enterprise that does not use the portal.
    item.do("rating", visit("满意", "已解决"), "officer")
    assert item.show()["item_status"] == "已办结"


def test_a_bad_file_is_refused_by_name_and_nothing_is_registered(app, zjtx):
    client = enterprise_session(app, zjtx)
    with zjtx.db.read() as session:
        before = session.scalar(select(func.count(ProcessInstance.id)))
    refused = submit(client, files=(("红线图.pdf", b"not a pdf"),))
    assert refused.status_code == 400 and "文件内容与扩展名 .pdf 不符" in text(refused)
    assert "二期厂房扩建" in text(refused)  # what was typed is kept
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(ProcessInstance.id))) == before


@pytest.mark.browser
@pytest.mark.slow
def test_a_phone_walk_submit_answer_rate(zjtx, server, chromium, tmp_path):
    """At 390×844 (and the item page at 360×740): the contact signs in with the code the outbox holds, submits a
    problem with a file, reads the released answer, rates it 不满意 (reopened), later 满意 (closed); no page
    scrolls sideways, no script error, nothing is fetched from another host."""
    from engine.policy.portal import EnterpriseAccounts
    from tests.helpers import INVITE_LINK, LOGIN_CODE, SHOTS, newest_to, queue_email

    email = "walk-contact@example.com"
    queue_email(zjtx)
    accounts = EnterpriseAccounts.of(zjtx)
    accounts.invite("dispatcher", register(zjtx), {"contact_name": "张经理", "email": email})
    accounts.accept(newest_to(zjtx, email, INVITE_LINK))
    context = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    fetched: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: fetched.append(r.url))

    def fits(name: str) -> None:
        page.wait_for_load_state("load")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{name} scrolls sideways: {width}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"qiye-{name}.png"), full_page=True)

    page.goto(f"{server}/qiye/login")
    page.fill("input[name=identifier]", email)
    page.click("button[name=action][value=code]")
    page.wait_for_url(re.compile(r".*/qiye/login/code.*"))
    page.fill("input[name=code]", newest_to(zjtx, email, LOGIN_CODE))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/qiye/.*"))
    page.goto(f"{server}/qiye/requests/")
    fits("requests")
    page.click("text=提交诉求")
    fits("request-new")
    page.select_option("select[name=category]", "用工")
    page.fill("textarea[name=description]", "新产线缺少熟练焊工 20 名，请协助对接招聘。")
    drawing = tmp_path / "岗位需求.pdf"
    drawing.write_bytes(PDF)
    page.set_input_files("input[name=files]", str(drawing))
    page.click("form.req-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/qiye/items/\d+"))
    instance_id = int(page.url.rsplit("/", 1)[1])
    assert "已提交，等待受理" in page.content() and "岗位需求.pdf" in page.content()
    fits("request-submitted")

    item = Submitted(zjtx, instance_id)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    page.reload()
    assert f"{LEAD}已办理完毕" in page.content()
    fits("request-answered")
    page.check("input[name=solved][value=部分解决]")
    page.check("input[name=satisfied][value=不满意]")
    page.fill("textarea[name=rating_comment]", "只推荐了 5 名焊工")
    page.click("#rating button[type=submit]")
    page.wait_for_load_state()
    assert "重新办理中" in page.content()
    item.rework(LEAD, "已再推荐焊工 15 名")
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    fits("request-answered-again-360")
    page.check("input[name=solved][value=已解决]")
    page.check("input[name=satisfied][value=满意]")
    page.click("#rating button[type=submit]")
    page.wait_for_load_state()
    assert "已办结" in page.content() and item.show()["item_status"] == "已办结"
    fits("request-closed-360")
    assert not errors, errors
    assert not [u for u in fetched if not (u.startswith(server) or u.startswith("data:"))]
    context.close()


def test_staff_pages_never_offer_the_portal_only_choices(app, zjtx, clock):
    """企业自评 and rated_by are the portal's to set; 企业自主提交 is the portal's source: the staff forms accept
    neither as a choice (the figures tell an enterprise's rating by who gave it, not by these values)."""
    item = Item(zjtx)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    officer = Browser.signed_in(app, "officer")
    page = text(officer.get(f"/tasks/{item.task('rating')['id']}"))
    assert 'name="visit_method"' in page and 'value="电话"' in page
    assert "企业自评" not in page and 'name="rated_by"' not in page
    console = text(Browser.signed_in(app, "dispatcher").get("/console"))
    assert "企业吹哨" in console and "企业自主提交" not in console
