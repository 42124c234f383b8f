"""The recommendation list (推荐名单) 区经济信息委 sends the city: one row per enterprise recommended in a batch,
with the proposing department's reason, and the materials checked (an Excel workbook)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from engine.identity import districts
from engine.policy.recognition.outcomes import TIER_LABELS

HEADERS = ["序号", "企业名称", "统一社会信用代码", "行业", "推荐部门", "推荐理由"]


def _safe(value) -> str:
    """A cell's text that a spreadsheet never reads as a formula."""
    text = str(value or "")
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def recommendation_workbook(data: dict) -> tuple[str, bytes]:
    """(file name, content) of the batch's recommendation list from its data (the candidates before review)."""
    rows = data.get("recommended_list")
    if rows is None:
        rows = data.get("candidates") or []
    tier = TIER_LABELS.get(data.get("tier"), "")
    title = f"{data.get('batch_year') or ''}年度{districts.name_of()}{tier}推荐名单"
    book = Workbook()
    sheet = book.active
    sheet.title = "推荐名单"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(HEADERS)
    for number, row in enumerate(rows, 1):
        sheet.append([number, *(_safe(row.get(k)) for k in ("enterprise_name", "enterprise_uscc", "industry",
                                                              "department", "reason"))])
    for column, width in zip("ABCDEF", (6, 32, 22, 16, 16, 48), strict=True):
        sheet.column_dimensions[column].width = width
    for cells in sheet.iter_rows(min_row=3):
        cells[5].alignment = Alignment(wrap_text=True, vertical="top")
    materials = book.create_sheet("申报材料清单")
    materials.append(["申报材料（区经济信息委已核对）"])
    for item in data.get("materials") or []:
        materials.append([_safe(item)])
    out = io.BytesIO()
    book.save(out)
    return f"{title}.xlsx", out.getvalue()
