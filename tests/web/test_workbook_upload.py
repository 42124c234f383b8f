"""The enterprise import page refuses bombs as it refuses any bad file: back to the registry with the
Chinese reason, no 500, nothing imported (issue 15: a zip bomb took the server to 2.3 GB; an XML bomb
answered 500)."""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.helpers import ROW_A, Browser, workbook

pytestmark = pytest.mark.sqlite_only
MB = 1024 * 1024
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
          + b"".join(b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(8))
          + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&i;</t></si></sst>')


def with_shared_strings(write) -> bytes:
    """A template workbook whose xl/sharedStrings.xml is written by ``write(stream)``, in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook([ROW_A], []))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        with dst.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            write(stream)
    return out.getvalue()


def letters(stream) -> None:
    stream.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
    chunk = b"A" * MB
    for _ in range(200):
        stream.write(chunk)
    stream.write(b"</t></si></sst>")


@pytest.fixture
def dispatcher(zjtx):
    from web import create_app

    browser = Browser(create_app(services=zjtx, config={"TESTING": True}))
    assert browser.login("dispatcher").status_code == 302
    browser.get("/enterprises/")
    return browser


@pytest.mark.parametrize("write, reason", [
    (letters, "解压后超过 40 MB，可能是压缩炸弹"),
    (lambda stream: stream.write(LAUGHS), "含有 DOCTYPE 或实体声明"),
], ids=["200 MB of letters", "billion laughs"])
def test_a_bomb_posted_to_the_import_is_refused_with_its_reason(dispatcher, zjtx, write, reason):
    bomb = with_shared_strings(write)
    assert len(bomb) < MB
    posted = dispatcher.post("/enterprises/import", {"file": (io.BytesIO(bomb), "企业.xlsx")},
                             content_type="multipart/form-data")
    assert posted.status_code == 302 and posted.headers["Location"].endswith("/enterprises/")
    page = dispatcher.get("/enterprises/").get_data(as_text=True)
    assert reason in page and "未导入任何数据" in page
    assert "黔江某新材料科技有限公司" not in page
    from engine.identity.authz import actor_for

    with zjtx.db.read() as session:
        assert zjtx.enterprises.list(actor_for(session, "dispatcher"))[1] == 0
