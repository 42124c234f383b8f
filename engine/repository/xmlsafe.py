"""Parsing uploaded XML without entity expansion, network access or unbounded size."""
from __future__ import annotations

import re

from lxml import etree

MAX_XML_BYTES = 5 * 1024 * 1024
# A DOCTYPE in the prolog (after the declaration, comments and processing instructions).
_DOCTYPE = re.compile(rb"^(?:\s|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL | re.IGNORECASE)


class UnsafeXml(ValueError):
    """The XML is malformed, too large, or uses DTD features we refuse. ``line`` where known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def parse_xml(content: bytes | str) -> etree._Element:
    if isinstance(content, str):
        content = content.encode("utf-8")
    if len(content) > MAX_XML_BYTES:
        raise UnsafeXml(f"文件过大（{len(content)} 字节，上限 {MAX_XML_BYTES} 字节）")
    if _DOCTYPE.match(content.lstrip(b"\xef\xbb\xbf")):
        raise UnsafeXml("文件含有 DOCTYPE/实体声明，出于安全原因不予接受")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, dtd_validation=False, remove_comments=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise UnsafeXml(f"XML 格式错误：{exc.msg}", line=line) from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise UnsafeXml("文件含有 DOCTYPE/实体声明，出于安全原因不予接受")
    return root
