"""Numbers from URLs and query strings, bounded: an id or page beyond what the database stores is
"not found" or the nearest allowed value, never a server error."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, url_for
from werkzeug.routing import IntegerConverter

from engine.errors import ValidationFailed

MAX_ID = 2**63 - 1  # the largest BIGINT; ids are never larger
MAX_PAGE = 100_000


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every route: ids past MAX_ID do not match (404) instead of overflowing the driver."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """A query-string integer clamped to [lo, hi]; missing or not a number gives ``default``."""
    raw = request.args.get(name, "")
    try:
        value = int(raw) if raw.strip().lstrip("-").isdigit() and len(raw) <= 30 else default
    except ValueError:
        value = default
    return min(max(value, lo), hi)


def strict_int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """For the API: like ``int_arg``, but a value that is not an integer is refused (ValidationFailed naming
    the parameter) instead of read as the default, as the OpenAPI document says."""
    if name not in request.args:
        return default
    raw = request.args[name].strip()  # "?page=" is not a number either
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not (digits.isascii() and digits.isdigit()):
        raise ValidationFailed({name: f"「{name}」应为整数，收到 {raw[:30]!r}"})
    if len(digits) > 30:  # far past either bound (and int() of thousands of digits is refused)
        return lo if raw.startswith("-") else hi
    return min(max(int(raw), lo), hi)


def form_id(name: str) -> int | None:
    """An id posted in a form: None when missing, not a number or beyond MAX_ID (the page says not found)."""
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_ID:
        return None
    return int(raw)


def form_ref(name: str, label: str) -> int | None:
    """An optional id posted in a form: None when the field is absent or empty; a value that is not an id
    is refused (ValidationFailed naming the field) rather than read as "none", so that a bad task id or
    message id never turns into "no task" or "every message"."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_ID:
        raise ValidationFailed({name: f"「{label}」应为编号，收到 {raw[:30]!r}"})
    return int(raw)


def same_site_path(target: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative URL an attacker chose. Browsers
    drop tabs and line breaks from URLs ("/\t/evil.example" becomes "//evil.example"), and a line break
    cannot go into a header, so any control character or space refuses the target: the inbox instead."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.inbox")


def back() -> str:
    """Where a form posted from a page returns to: that page when the Referer names one of ours (same
    host), else the inbox. The Referer is the client's word, so it goes through the same rule as ``next``."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return url_for("pages.inbox")
    return same_site_path(parts.path + (f"?{parts.query}" if parts.query else ""))

