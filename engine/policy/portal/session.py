"""Who is signed in on an enterprise page, the realm's errors, and the small rules both halves share: how a
contact is named (a mobile number or an email address), how codes and tokens are hashed, how an address is
shown half hidden."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from engine.errors import EngineError
from engine.identity.accounts import normalise_mobile

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
CHANNEL_LABELS = {"sms": "手机", "email": "邮箱"}


@dataclass(frozen=True)
class EnterpriseSession:
    """The enterprise contact of this request (web: ``g.enterprise``). Everything an enterprise page may show
    or change is looked up through ``enterprise_id`` (its own records only)."""

    account_id: int
    enterprise_id: int
    contact_id: int
    enterprise_name: str
    contact_name: str
    district_id: int | None = None  # the enterprise's district: the portal works in it for the whole request


class PortalRefused(EngineError):
    """A sign-in, invitation or registration refused; ``message`` says why, in Chinese."""

    code = "portal_refused"


class TooFrequent(PortalRefused):
    """Too many codes or attempts in a while (web: 429)."""

    code = "too_frequent"


def identify(text: str) -> tuple[str, str] | None:
    """``("sms", "13800001111")`` or ``("email", "a@b.cn")`` for what a contact types to sign in; None otherwise."""
    text = (text or "").strip()[:255]
    mobile = normalise_mobile(text)
    if mobile:
        return "sms", mobile
    if EMAIL.match(text):
        return "email", text.lower()
    return None


def keyed_hash(secret: str, *parts: object) -> str:
    """HMAC-SHA256 under the deployment's secret: a stolen table does not give six-digit codes away."""
    message = ":".join(str(p) for p in parts).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def masked(channel: str, address: str) -> str:
    """``138****1111`` / ``zh***@example.com``: enough for the person to know where to look."""
    if channel == "sms":
        return address[:3] + "****" + address[-4:]
    name, _, domain = address.partition("@")
    return f"{name[:2]}***@{domain}"
