"""The circular's Word document in the 公文 layout of GB/T 9704-2012, read back with python-docx and its XML;
and starting a draft for a period from the circulars page."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Length, Pt

from engine.policy.circulars.document import ISSUER
from engine.storage.models import Circular
from tests.helpers import Browser, crafted_october, liaison

pytestmark = pytest.mark.sqlite_only
PUBLISHED = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 2026-12-02 00:30 in Beijing: dated 2 December


def east_asian(run) -> str | None:
    fonts = run._element.rPr.rFonts
    return fonts.get(qn("w:eastAsia")) if fonts is not None else None


@pytest.fixture
def published(zjtx, clock):
    crafted_october(zjtx)
    clock.move_to(PUBLISHED)
    from datetime import date

    with zjtx.db.write() as session:
        circular = zjtx.circulars.draft_in(session, date(2026, 10, 1), date(2026, 10, 31))
        zjtx.circulars.publish_in(session, circular.id, "office")
        circular_id = circular.id
    with zjtx.db.read() as session:
        return session.get(Circular, circular_id)


def paragraph(document, text: str):
    found = [p for p in document.paragraphs if p.text == text]
    assert found, f"no paragraph {text!r} in {[p.text for p in document.paragraphs]}"
    return found[0]


def test_the_page_is_a4_with_the_standards_margins(zjtx, published):
    section = Document(io.BytesIO(zjtx.circulars.docx(published))).sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin,
                                  section.right_margin)] == [37, 35, 28, 26]
    assert round(Length(section.page_width - section.left_margin - section.right_margin).mm) == 156  # 版心 156 × 225
    assert round(Length(section.page_height - section.top_margin - section.bottom_margin).mm) == 225


def test_the_red_head_number_and_title(zjtx, published):
    document = Document(io.BytesIO(zjtx.circulars.docx(published)))
    head = paragraph(document, ISSUER)
    assert head.text == "黔江区“专精特新”企业培育发展工作领导小组办公室"
    [run] = head.runs
    assert str(run.font.color.rgb) == "FF0000" and east_asian(run) == "方正小标宋简体"
    number = paragraph(document, "黔江专精特新通报〔2026〕1号")
    border = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))  # the red separator line
    assert border.get(qn("w:color")) == "FF0000" and border.get(qn("w:val")) == "single"
    title = paragraph(document, "关于2026年10月“专精特新”企业问题交办办理情况的通报")
    assert east_asian(title.runs[0]) == "方正小标宋简体" and title.runs[0].font.size == Pt(22)
    order = [p.text for p in document.paragraphs]
    assert order.index(ISSUER) < order.index(number.text) < order.index(title.text)


def test_the_body_is_fangsong_16pt_indented_two_characters(zjtx, published):
    document = Document(io.BytesIO(zjtx.circulars.docx(published)))
    body = next(p for p in document.paragraphs if p.text.startswith("现将"))
    assert body.text.startswith("现将2026年10月1日至2026年10月31日")  # one date form throughout
    run = body.runs[0]
    assert east_asian(run) == "仿宋_GB2312" and run.font.name == "仿宋_GB2312" and run.font.size == Pt(16)
    assert body.paragraph_format.first_line_indent == Pt(32)
    assert body._p.pPr.find(qn("w:ind")).get(qn("w:firstLineChars")) == "200"
    heading = paragraph(document, "一、总体情况")
    assert east_asian(heading.runs[0]) == "黑体"
    addressee = paragraph(document, "区级有关部门、单位：")
    assert not addressee.paragraph_format.first_line_indent  # 主送机关: flush left
    assert document.styles["Normal"].font.size == Pt(16)


def test_the_signature_and_the_chinese_date(zjtx, published):
    document = Document(io.BytesIO(zjtx.circulars.docx(published)))
    texts = [p.text for p in document.paragraphs]
    assert texts.count(ISSUER) == 2  # the red head and the 落款, never the draft's own last line again
    date_line = paragraph(document, "2026年12月2日")  # the Beijing day of publication
    assert texts.index("2026年12月2日") == len(texts) - 1 - texts[::-1].index("2026年12月2日")
    assert texts[texts.index("2026年12月2日") - 1] == ISSUER
    assert date_line.alignment == 2 and date_line.paragraph_format.right_indent == Pt(64)  # 右空四字
    assert not any("2026-1" in t for t in texts)


def test_page_numbers_and_the_figures_attachment(zjtx, published):
    document = Document(io.BytesIO(zjtx.circulars.docx(published)))
    footer = document.sections[0].footer.paragraphs[0]
    xml = footer._p.xml
    assert "PAGE" in xml and footer.text.startswith("— ") and footer.text.endswith(" —")
    assert document.settings.odd_and_even_pages_header_footer
    assert "PAGE" in document.sections[0].even_page_footer.paragraphs[0]._p.xml
    paragraph(document, "附件")
    header = [c.text for c in document.tables[0].rows[0].cells]
    assert header[:4] == ["名次", "单位", "收到交办", "应办结"]
    assert east_asian(document.tables[0].rows[1].cells[1].paragraphs[0].runs[0]) == "仿宋_GB2312"


@pytest.fixture
def browser(zjtx):
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})

    def make(user):
        b = Browser(app)
        assert b.login(user).status_code == 302
        b.get("/circulars/")
        return b
    return make


def test_the_dispatcher_drafts_the_previous_month_from_the_page(zjtx, browser, clock):
    crafted_october(zjtx)
    clock.move_to(datetime(2026, 10, 31, 16, 30, tzinfo=UTC))  # 1 November, 00:30 in Beijing
    dispatcher = browser("dispatcher")
    page = dispatcher.get("/circulars/").get_data(as_text=True)
    assert "起草通报" in page and 'name="month" value="2026-10"' in page  # the month before, in Beijing
    done = dispatcher.post("/circulars/draft", {"month": "2026-10"})
    assert done.status_code == 302 and "/circulars/" in done.headers["Location"]
    [draft] = [t for t in zjtx.queries.tasks() if t["task"] == "draft"]
    data = zjtx.queries.show(draft["instance_id"])["data"]
    assert (data["period_start"], data["period_end"]) == ("2026-10-01", "2026-10-31")
    view = dispatcher.get(done.headers["Location"]).get_data(as_text=True)
    assert "草稿，尚未发布" in view and "已生成通报初稿" in view
    again = dispatcher.post("/circulars/draft", {"month": "2026-10"})
    text = again.get_data(as_text=True)
    assert again.status_code == 409 and "该统计期已起草通报" in text
    assert f'href="/circulars/{zjtx.circulars.of_instance(draft["instance_id"]).id}"' in text
    assert len([t for t in zjtx.queries.tasks() if t["task"] == "draft"]) == 1  # nothing more started


@pytest.mark.parametrize("form, field, message", [
    ({"period_start": "2026-10-20", "period_end": "2026-10-10"}, "period_end", "「截止日期」不能早于「起始日期」"),
    ({"month": "2026-11"}, "period_end", "统计期尚未结束：「截止日期」最晚为 2026年11月3日"),
    ({"period_start": "2026-10-01", "period_end": "十月底"}, "period_end", "「截止日期」应为日期"),
    ({"month": ""}, "month", "请选择「统计月份」"),
])
def test_bad_periods_are_refused_in_chinese(zjtx, browser, clock, form, field, message):
    refused = browser("office").post("/circulars/draft", form)
    assert refused.status_code == 400 and message in refused.get_data(as_text=True)
    assert not zjtx.circulars.list(include_drafts=True)


def test_only_the_dispatcher_office_and_admin_may_draft(zjtx, browser, clock):
    member = browser(liaison("区财政局"))
    assert "起草通报" not in member.get("/circulars/").get_data(as_text=True)
    assert member.post("/circulars/draft", {"month": "2026-10"}).status_code == 403
    assert browser("officer").post("/circulars/draft", {"month": "2026-10"}).status_code == 403
    assert browser("admin").post("/circulars/draft", {"month": "2026-09"}).status_code == 302
    assert not [c for c in zjtx.circulars.list(include_drafts=True) if c.period_start.month == 10]
