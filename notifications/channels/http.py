"""Posting JSON to a receiver over HTTP(S): what the webhook channel (and any gateway-like channel) sends with."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from notifications.channels.base import DeliveryError


def post_json(url: str, body: dict, key: str, timeout: float, what: str = "Webhook") -> bytes:
    """POST ``body`` as UTF-8 JSON with the header ``Idempotency-Key: key``; the answer's first 64 KiB.
    An invalid URL, an HTTP error status or no connection raise DeliveryError (its message names ``what``)."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"{what} 地址无效：{url}")
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{what} 返回 HTTP {exc.code}") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise DeliveryError(f"{what} 无法连接：{exc}") from exc
