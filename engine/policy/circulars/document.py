"""The circular as a Word document in the 公文 layout of GB/T 9704-2012 (党政机关公文格式).

A4 (210 mm × 297 mm); 天头 37 mm, 订口 28 mm, 版心 156 mm × 225 mm, hence bottom 35 mm and right 26 mm;
22 lines of 28 characters. 红头 (发文机关标志, the issuing body in red 小标宋) over the 发文字号 and the red
separator line; the title in 2号小标宋 (22 pt); the body in 3号仿宋 (16 pt), paragraphs indented two
characters, 一级标题 in 3号黑体; the 落款 (issuing body) and the date in Chinese form (2026年12月2日),
four characters from the right; page numbers 「— 1 —」 in 4号宋体, odd pages right, even pages left, one
character from the edge. Fonts are named for East Asian text (w:eastAsia), which Word uses for Chinese.
"""
from __future__ import annotations

import io
import re
from datetime import date

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph

from engine.identity import districts

ISSUER = "黔江区“专精特新”企业培育发展工作领导小组办公室"  # the policy's 领导小组, its office at 区经济信息委 (黔江区's)


def issuer() -> str:
    """The 落款 of the current district's documents: its leading group's office."""
    return f"{districts.name_of()}“专精特新”企业培育发展工作领导小组办公室"


FANGSONG, XIAOBIAOSONG, HEITI, SONGTI = "仿宋_GB2312", "方正小标宋简体", "黑体", "宋体"
BODY_PT, TITLE_PT, HEAD_PT, TABLE_PT, PAGE_NUMBER_PT = 16, 22, 22, 12, 14
LINE_PITCH = Pt(28.9)  # 225 mm / 22 lines
RED = RGBColor(0xFF, 0x00, 0x00)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
HEADING = re.compile(r"^[一二三四五六七八九十]+、")


def font(run, name: str, size_pt: float, bold: bool = False, color: RGBColor | None = None) -> None:
    """Name the font for Latin and East Asian text alike and set its size."""
    run.font.name = name
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), name)


def _paragraph(doc, text: str = "", *, face: str = FANGSONG, size: float = BODY_PT, indent: bool = False,
               align=None, bold: bool = False, color: RGBColor | None = None, right_chars: int = 0) -> Paragraph:
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, LINE_PITCH if size <= BODY_PT else Pt(size * 1.5)
    if align is not None:
        p.alignment = align
    if indent:  # 首行缩进二字: in characters (w:firstLineChars), with the length for readers that ignore it
        fmt.first_line_indent = Pt(2 * size)
        p._p.get_or_add_pPr().get_or_add_ind().set(qn("w:firstLineChars"), "200")
    if right_chars:
        fmt.right_indent = Pt(right_chars * size)
    if text:
        font(p.add_run(text), face, size, bold, color)
    return p


def _red_line(p: Paragraph) -> None:
    """The separator under the 发文字号: a red rule across the type area (the paragraph's bottom border)."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "1"), ("w:color", "FF0000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    p._p.get_or_add_pPr().append(borders)


def _page_number(p: Paragraph) -> None:
    """「— N —」 with a PAGE field (Word fills in the number)."""
    font(p.add_run("— "), SONGTI, PAGE_NUMBER_PT)
    for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("text", "1"), ("end", None)):
        run = p.add_run()
        font(run, SONGTI, PAGE_NUMBER_PT)
        if kind == "instr":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        elif kind == "text":
            element = OxmlElement("w:t")
            element.text = text
        else:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        run._r.append(element)
    font(p.add_run(" —"), SONGTI, PAGE_NUMBER_PT)


def _page_setup(doc) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    section.footer_distance = Mm(28)  # the number sits 7 mm below the type area
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FANGSONG, Pt(BODY_PT)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FANGSONG)
    doc.settings.odd_and_even_pages_header_footer = True
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        p = footer.paragraphs[0]
        p.alignment = align
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            p.paragraph_format.right_indent = Pt(PAGE_NUMBER_PT)
        else:
            p.paragraph_format.left_indent = Pt(PAGE_NUMBER_PT)
        _page_number(p)


def _head(doc, number: str | None, title: str) -> None:
    _paragraph(doc, issuer(), face=XIAOBIAOSONG, size=HEAD_PT, align=WD_ALIGN_PARAGRAPH.CENTER, color=RED)
    _paragraph(doc)
    _paragraph(doc)
    rule = _paragraph(doc, number or "（草稿，未编号）", align=WD_ALIGN_PARAGRAPH.CENTER)  # 发文字号
    _red_line(rule)
    _paragraph(doc)
    _paragraph(doc)
    _paragraph(doc, title, face=XIAOBIAOSONG, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc)


def _body(doc, lines: list[str]) -> None:
    addressee = True
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if addressee and text.endswith("："):  # 主送机关: flush left
            _paragraph(doc, text)
        elif HEADING.match(text):
            _paragraph(doc, text, face=HEITI, indent=True)
        else:
            _paragraph(doc, text, indent=True)
        addressee = False


def _signature(doc, day: date) -> None:
    """落款 and 成文日期: the date four characters from the right, the body's name centred over it."""
    _paragraph(doc)
    _paragraph(doc)
    when = f"{day.year}年{day.month}月{day.day}日"
    signed = issuer()
    name_chars, date_chars = len(signed), len(when) // 2 + 2  # digits take half a character
    _paragraph(doc, signed, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=max(0, 4 + (date_chars - name_chars) // 2))
    _paragraph(doc, when, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)


def _attachment(doc, header: list[str], rows: list[list[str]]) -> None:
    last = doc.paragraphs[-1]
    last.add_run().add_break(WD_BREAK.PAGE)
    _paragraph(doc, "附件", face=HEITI)
    _paragraph(doc, "各单位办理情况", face=XIAOBIAOSONG, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)
    grid = doc.add_table(rows=1, cols=len(header))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for values, cells in [(header, grid.rows[0].cells)] + [(r, None) for r in rows]:
        for cell, text in zip(cells or grid.add_row().cells, values, strict=True):
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            font(p.add_run(text), HEITI if cells is not None else FANGSONG, TABLE_PT)


def render(number: str | None, title: str, text: str, day: date, header: list[str], rows: list[list[str]]) -> bytes:
    """The .docx of a circular: ``text`` as drafted (its first line the title, its last the 落款, both set
    apart here), dated ``day`` (the publication's, in Beijing), with the figures ``rows`` as 附件."""
    lines = text.split("\n")[1:]
    while lines and lines[-1].strip() in ("", issuer()):
        lines.pop()
    doc = Document()
    _page_setup(doc)
    _head(doc, number, title)
    _body(doc, lines)
    _signature(doc, day)
    if rows:
        _attachment(doc, header, rows)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()



def render_letter(number: str | None, title: str, lines: list[str], day: date) -> bytes:
    """Another document of the office in the same layout (a 督办函): 红头 and number, the title, the body
    ``lines`` (the first, ending in 「：」, the addressee; 「一、」 lines as headings), the 落款 and ``day``."""
    doc = Document()
    _page_setup(doc)
    _head(doc, number, title)
    _body(doc, lines)
    _signature(doc, day)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
