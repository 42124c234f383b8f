"""A file the user downloads: its name in UTF-8 (RFC 6266 ``filename*``), never shown inline, never sniffed."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def send_download(content: bytes | str, filename: str, content_type: str) -> Response:
    return Response(content, content_type=content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}", "X-Content-Type-Options": "nosniff"})
