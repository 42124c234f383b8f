"""Uploaded workbooks are checked before openpyxl reads them (issue 15: a 978 KB .xlsx holding 1 GB of
text took the server from 520 MB to 2.3 GB; XML bombs answered 500). The bombs are real: built here
with zipfile, in chunks, so that building them costs little memory."""
from __future__ import annotations

import io
import re
import struct
import tracemalloc
import zipfile

import pytest
from openpyxl.utils import column_index_from_string

from engine.errors import ValidationFailed
from engine.policy import workbooks
from engine.policy.pool.enterprises import ImportFailed
from tests.helpers import ROW_A, workbook

MB = 1024 * 1024
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
SST_OPEN = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&xxe;</t></si></sst>')


def template() -> bytes:
    return workbook([ROW_A], [])


def as_shared_strings(base: bytes, sst) -> dict:
    """Parts that make ``sst`` (bytes, or a function writing to a stream) the workbook's shared strings,
    declared in [Content_Types].xml and the workbook's relationships as Excel does."""
    with zipfile.ZipFile(io.BytesIO(base)) as src:
        types = src.read("[Content_Types].xml").replace(
            b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'.encode())
        rels = src.read("xl/_rels/workbook.xml.rels").replace(
            b"</Relationships>",
            f'<Relationship Id="rIdSst" Type="{SST_REL}" Target="sharedStrings.xml"/></Relationships>'.encode())
    return {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels, "xl/sharedStrings.xml": sst}


def rebuilt(parts: dict, base: bytes | None = None) -> bytes:
    """``base`` (the template) with ``parts`` replaced or added; a callable part writes itself in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base or template())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info.filename, src.read(info))
        for name, data in parts.items():
            if callable(data):
                with dst.open(name, "w", force_zip64=True) as stream:
                    data(stream)
            else:
                dst.writestr(name, data)
    return out.getvalue()


def only(parts: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def letters(size: int):
    """A shared-strings part of one string of ``size`` letters A, written 1 MB at a time."""
    def write(stream):
        stream.write(SST_OPEN + b"<si><t>")
        chunk = b"A" * MB
        for _ in range(size // MB):
            stream.write(chunk)
        stream.write(b"</t></si></sst>")
    return write


def refusal(content: bytes) -> str:
    with pytest.raises(ValidationFailed) as caught, workbooks.open_upload(content, field="upload") as book:
        for name in book.sheetnames:
            list(book.rows(name))
    assert set(caught.value.errors) == {"upload"}, "the error names the form field"
    return caught.value.errors["upload"]


def measured(action) -> tuple:
    """(what ``action()`` returned, the peak of memory allocated meanwhile in MB)."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def test_a_template_workbook_opens_and_reads():
    with workbooks.open_upload(template()) as book:
        assert book.sheetnames == ["企业", "年度数据"]
        assert list(book.rows("企业"))[1] == tuple(ROW_A)


def test_200_mb_of_letters_in_the_shared_strings_is_refused_in_little_memory():
    bomb = rebuilt(as_shared_strings(template(), letters(200 * MB)))
    assert len(bomb) < 1 * MB
    message, peak = measured(lambda: refusal(bomb))
    assert "xl/sharedStrings.xml" in message and "压缩炸弹" in message and "未导入任何数据" in message
    assert peak < 20


def test_a_highly_compressed_member_under_the_size_cap_is_refused_by_its_ratio():
    bomb = rebuilt(as_shared_strings(template(), letters(30 * MB)))
    assert "压缩比超过 100:1" in refusal(bomb)


def lying(content: bytes, member: str, claimed: int) -> bytes:
    """``content`` with the uncompressed size of ``member`` patched to ``claimed`` in its local header
    and in the central directory."""
    data = bytearray(content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo(member)
    assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, info.header_offset + 22, claimed)
    name = member.encode()
    entry = data.find(b"PK\x01\x02")
    while data[entry + 46:entry + 46 + len(name)] != name:
        entry = data.find(b"PK\x01\x02", entry + 4)
        assert entry != -1
    struct.pack_into("<I", data, entry + 24, claimed)
    return bytes(data)


def test_a_member_whose_declared_size_lies_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        with dst.open("xl/sharedStrings.xml", "w") as stream:  # no zip64: the 32-bit size fields hold the size
            letters(100 * MB)(stream)
    bomb = lying(out.getvalue(), "xl/sharedStrings.xml", 1000)
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("xl/sharedStrings.xml").file_size == 1000
    message, peak = measured(lambda: refusal(bomb))
    assert "损坏或被篡改" in message and peak < 20


def test_the_bytes_that_really_come_out_are_counted_not_the_declared_ones():
    # With honest sizes the directory already refuses; the count is the guard that does not trust it.
    for parts, where in [({"xl/sharedStrings.xml": letters(45 * MB)}, "xl/sharedStrings.xml"),
                         ({"a.xml": letters(30 * MB), "b.xml": letters(30 * MB)}, "超过 50 MB")]:
        with zipfile.ZipFile(io.BytesIO(rebuilt(parts))) as archive:
            message, peak = measured(lambda a=archive: workbooks._content_problem(a))
        assert where in message and "压缩炸弹" in message and peak < 20


def test_too_many_members_are_refused():
    bomb = rebuilt({f"xl/media/image{i}.png": b"\x89PNG" for i in range(workbooks.MAX_MEMBERS)})
    assert "超过上限 200 个" in refusal(bomb)


@pytest.mark.parametrize("sst", [
    LAUGHS, XXE,
    LAUGHS.decode().replace('"?>', '" encoding="UTF-16"?>', 1).encode("utf-16"),  # no "<!DOCTYPE" in its bytes
    b" " * 100_000 + LAUGHS.removeprefix(b'<?xml version="1.0"?>'),  # past the first chunk read
], ids=["billion laughs", "external entity", "in UTF-16", "after white space"])
def test_xml_with_a_doctype_or_entities_is_refused(sst):
    message = refusal(rebuilt(as_shared_strings(template(), sst)))
    assert "xl/sharedStrings.xml" in message and "DOCTYPE 或实体声明" in message


def test_xml_that_expat_cannot_read_is_refused_and_other_parts_pass():
    ebcdic = '<?xml version="1.0" encoding="cp037"?><sst/>'.encode("cp037")
    assert "「xl/sharedStrings.xml」不是有效的 XML" in refusal(rebuilt(as_shared_strings(template(), ebcdic)))
    parts = {"xl/media/image1.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
             "xl/printerSettings/printerSettings1.bin": b"\x00\x00" + "Lexmark <x>".encode("utf-16-le")}
    with workbooks.open_upload(rebuilt(parts)) as book:
        assert len(list(book.rows("企业"))) == 2


def with_name(text: str) -> bytes:
    """The template with the enterprise name in A2 replaced in the sheet's XML (openpyxl itself cuts a
    text it writes at 32,767 characters; a crafted file does not)."""
    with zipfile.ZipFile(io.BytesIO(template())) as src:
        sheet = src.read("xl/worksheets/sheet1.xml")
    start = sheet.index(b'<c r="A2" t="inlineStr"><is><t>') + len(b'<c r="A2" t="inlineStr"><is><t>')
    return rebuilt({"xl/worksheets/sheet1.xml": sheet[:start] + text.encode() + sheet[sheet.index(b"</t>", start):]})


def test_a_cell_longer_than_excel_allows_is_refused():
    assert "工作表「企业」第 2 行 A 列超过 32,767 个字符" in refusal(with_name("黔" * 32_768))
    with workbooks.open_upload(with_name("黔" * 32_767)) as book:
        assert len(list(book.rows("企业"))[1][0]) == 32_767


def sheet_with(cells: list[tuple[int, int, str]]) -> bytes:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(template()))
    for row, column, value in cells:
        book["企业"].cell(row=row, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_rows_and_columns_beyond_the_caps_are_refused():
    assert "工作表「企业」超过 20,000 行" in refusal(sheet_with([(20_001, 1, "x")]))
    with workbooks.open_upload(sheet_with([(20_000, 1, "x")])) as book:
        assert len(list(book.rows("企业"))) == 20_000
    assert "第 2 行超过 100 列" in refusal(sheet_with([(2, 101, "x")]))


def test_a_claimed_dimension_of_a_million_rows_costs_nothing():
    with zipfile.ZipFile(io.BytesIO(template())) as src:
        sheet = src.read("xl/worksheets/sheet1.xml")
    claimed = re.search(rb'<dimension ref="A1:([A-Z]+)2"/>', sheet)  # the template's two rows, as wide as it is
    assert claimed is not None
    huge = sheet.replace(claimed.group(0), b'<dimension ref="A1:XFD1048576"/>')
    width = column_index_from_string(claimed.group(1).decode())
    with workbooks.open_upload(rebuilt({"xl/worksheets/sheet1.xml": huge})) as book:
        lengths = [len(r) for r in book.rows("企业")]
    assert len(lengths) == 2 and lengths[0] == width and max(lengths) == width  # not 16,384 columns, nor a million rows


@pytest.mark.parametrize("content, expected", [
    (b"not excel", "不是有效的 Excel"),
    (b"PK\x03\x04" + bytes(100), "不是有效的 Excel"),
    (only({"hello.txt": b"hi"}), "无法读取这个 Excel 文件"),
    (rebuilt({"xl/worksheets/sheet1.xml": b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                                          b'main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is>'}),
     "无法读取这个 Excel 文件"),
    (rebuilt({"xl/styles.xml": b"<styleSheet><unclosed"}), "无法读取这个 Excel 文件"),
])
def test_broken_files_are_refused_in_chinese_never_with_an_exception(content, expected):
    assert expected in refusal(content)


def test_a_refused_import_imports_nothing(zjtx):
    from engine.identity.authz import actor_for
    from tests.helpers import register

    register(zjtx)
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    before = zjtx.enterprises.list(dispatcher)
    bomb = rebuilt(as_shared_strings(template(), letters(200 * MB)))
    with pytest.raises(ValidationFailed) as caught:
        zjtx.enterprises.import_workbook(dispatcher, bomb, field="upload")
    assert not isinstance(caught.value, ImportFailed) and "压缩炸弹" in caught.value.errors["upload"]
    assert zjtx.enterprises.list(dispatcher) == before
