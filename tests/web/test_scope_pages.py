"""The scope and goals on the pages: the enterprise form's scope fields and the 重点支持 mark, 区科技局's
科技型企业 page (its liaison imports and flags; another unit's liaison is refused), 本区设置 with each
setting marked as the district's, and both pages at 360 px."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from engine.identity.authz import actor_for
from tests.helpers import GOOD, RECORD, YEARS, User, register, uscc

pytestmark = pytest.mark.sqlite_only




def tech_list(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "科技型企业"
    sheet.append(["统一社会信用代码", "入库日期", "有效期至"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_form_records_the_scope_and_the_page_marks_the_key_field(browser, zjtx):
    enterprise_id = register(zjtx)
    b = browser("officer")
    form = b.get(f"/enterprises/{enterprise_id}/edit").get_data(as_text=True)
    assert 'name="sector"' in form and "生产性支持服务" in form and 'name="financial_type"' in form
    fields = {k: v for k, v in RECORD.items() if isinstance(v, str)} | {"industry": "批发业", "tier": "none"}
    bad = b.post(f"/enterprises/{enterprise_id}/edit", {**fields, "sector": "工业", "financial_type": "信托公司"})
    assert bad.status_code == 400 and "只在所属领域为「金融服务」时填写" in bad.get_data(as_text=True)
    ok = b.post(f"/enterprises/{enterprise_id}/edit", {**fields, "sector": "批发经纪代理服务",
                                                       "key_field": "战略性新兴产业"})
    assert ok.status_code == 302
    page = b.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert "重点支持：战略性新兴产业" in page and "所属领域：工业 → 批发经纪代理服务" in page
    assert "重点支持" in b.get("/enterprises/").get_data(as_text=True)


def test_the_tech_bureau_keeps_its_list_and_others_may_not(browser, zjtx):
    register(zjtx)
    stranger = uscc("91500114MA5U8YYY0")
    tech = browser("science_tech_bureau_liaison")
    assert "科技型企业名单" in tech.get("/enterprises/").get_data(as_text=True)
    tech.get("/enterprises/tech")
    done = tech.post("/enterprises/tech/import", {"file": (io.BytesIO(tech_list([[GOOD, "2025-06-01", None],
                                                                                [stranger, "2025-06-01", None]])),
                                                           "名单.xlsx")},
                     content_type="multipart/form-data", follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "更新 1 家" in text and f"第 3 行 {stranger}" in text and "不在企业库中" in text
    assert "标记 1 家" in text
    bad = tech.post("/enterprises/tech/import", {"file": (io.BytesIO(tech_list([[GOOD, "明天", None]])), "x.xlsx")},
                    content_type="multipart/form-data")
    assert bad.status_code == 400 and "第 2 行「入库日期」" in bad.get_data(as_text=True)
    unknown = tech.post("/enterprises/tech/flag", {"uscc": stranger, "tech_since": "2025-06-01", "action": "set"})
    assert unknown.status_code == 400 and "不在企业库中" in unknown.get_data(as_text=True)
    other = browser("economy_info_commission_liaison")
    assert other.get("/enterprises/tech").status_code == 403
    other.get("/enterprises/")
    assert other.post("/enterprises/tech/flag", {"uscc": GOOD, "action": "clear"}).status_code == 403
    assert other.post("/enterprises/tech/import", {"file": (io.BytesIO(tech_list([])), "x.xlsx")},
                      content_type="multipart/form-data").status_code == 403
    dispatcher = browser("dispatcher")
    page = dispatcher.get("/enterprises/tech").get_data(as_text=True)
    assert "标记 1 家" in page and 'name="file"' not in page  # reads, does not edit
    dispatcher.get("/enterprises/")
    assert dispatcher.post("/enterprises/tech/flag", {"uscc": GOOD, "action": "clear"}).status_code == 403
    cleared = tech.post("/enterprises/tech/flag", {"uscc": GOOD, "action": "clear"}, follow_redirects=True)
    assert "已取消" in cleared.get_data(as_text=True) and "标记 0 家" in cleared.get_data(as_text=True)


def test_the_district_settings_page_marks_each_setting(browser):
    page = browser("office").get("/district/settings").get_data(as_text=True)
    assert page.count("区级设置（行动计划未作规定）") == 6
    for shown in ("培育库入库有效期", "年度数据更新截止日", "入库公示期", "不满意重办次数上限", "通报文号格式",
                  "notice_working_days"):
        assert shown in page
    assert browser("commerce_commission_liaison").get("/district/settings").status_code == 403
    assert "打开设计器" in browser("admin").get("/district/settings").get_data(as_text=True)


@pytest.mark.browser
@pytest.mark.slow
def test_the_settings_and_tech_pages_fit_a_360_px_phone(chromium, server, zjtx):
    register(zjtx)
    zjtx.enterprises.tech.set_flag(actor_for_name(zjtx, "science_tech_bureau_liaison"),
                                   {"uscc": GOOD, "tech_since": "2025-06-01", "tech_valid_until": "2028-05-31"})
    for username, path in (("office", "/district/settings"), ("science_tech_bureau_liaison", "/enterprises/tech"),
                           ("dispatcher", "/enterprises/tech")):
        user = User(chromium, server, username, viewport={"width": 360, "height": 740})
        user.page.goto(user.base + path)
        user.page.wait_for_load_state("load")
        width = user.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        user.shot(f"phone360-{username}-{path.strip('/').replace('/', '-')}")
        assert width[0] <= width[1], f"{username} {path} scrolls sideways: {width[0]} > {width[1]} px"
        assert user.errors == [], user.errors
        user.context.close()


@pytest.mark.usefixtures("clock")
def test_the_admission_page_shows_the_refusal_reason_and_the_key_field_mark(browser, zjtx):
    refused_id = register(zjtx, sector="其他（不在培育范围）")
    officer = browser("officer")
    officer.get(f"/enterprises/{refused_id}")
    page = officer.post(f"/enterprises/{refused_id}/apply", follow_redirects=True).get_data(as_text=True)
    assert "不予入库理由" in page and "不在培育范围（行动计划二（一））：所属领域「其他（不在培育范围）」" in page
    marked = zjtx.enterprises.save(actor_for_name(zjtx, "dispatcher"), {
        **RECORD, "uscc": uscc("91500114MA5U8KKK0"), "name": "重庆黔江某重点支持企业有限公司", "industry": "批发业",
        "tier": "无", "tier_since": None, "sector": "工业", "key_field": "制造强国战略重点产业"},
        years=YEARS)
    officer.get(f"/enterprises/{marked}")
    page = officer.post(f"/enterprises/{marked}/apply", follow_redirects=True).get_data(as_text=True)
    assert "符合培育入库条件" in page and "重点支持领域：制造强国战略重点产业" in page


def actor_for_name(zjtx, username):
    with zjtx.db.read() as session:
        return actor_for(session, username)
