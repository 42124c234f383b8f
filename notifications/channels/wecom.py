"""企业微信 / 政务微信 application messages: each user's work notices as a text card with a 「去办理」 button.

On when ``ZJTX_WECOM_CORP_ID``, ``ZJTX_WECOM_AGENT_ID`` and ``ZJTX_WECOM_SECRET`` are set (engine.config);
政务微信 deployments set ``ZJTX_WECOM_API_BASE`` to their own API address (the paths are the same). A
user is reached when their account has a WeCom UserID (``app_user.wecom_userid``, on the admin's user
page) and they have not switched the channel off (``zjtx notify-pref USER wecom off``).

The API (developer.work.weixin.qq.com/document/path/90236 and /91039):

- ``GET {base}/cgi-bin/gettoken?corpid=…&corpsecret=…`` → ``{"errcode": 0, "access_token": …, "expires_in": 7200}``;
  the token is kept until shortly before it expires, and fetched again once when a send answers that
  it expired or is invalid (42001, 40014, 40001);
- ``POST {base}/cgi-bin/message/send?access_token=…`` with ``{"touser", "msgtype": "textcard", "agentid",
  "textcard": {"title", "description", "url", "btntxt"}, "enable_duplicate_check": 1,
  "duplicate_check_interval": 1800}``: a title of at most 128 bytes, a description of at most 512 bytes
  in WeCom's subset of HTML (``<div class="gray|normal|highlight">``), an absolute URL. The duplicate
  check makes a redelivery after a crash (the outbox is at-least-once) arrive once.

Any other non-zero ``errcode``, an HTTP error, or the user reported in ``invaliduser`` is a failed
delivery: the outbox tries again with backoff and parks it as a dead letter after the last try.
"""
from __future__ import annotations

import html
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.storage.models import OutboxMessage, User
from notifications.channels.base import Channel, DeliveryError, Message, Recipient
from notifications.channels.http import post_json

TITLE_BYTES, DESCRIPTION_BYTES = 128, 512
BUTTON = "去办理"
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid secret/token, token expired: fetch a new token once
ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 at a character boundary (an ellipsis marks a cut)."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    return text.encode("utf-8")[:max(room, 0)].decode("utf-8", "ignore") + ELLIPSIS


def _size(text: str) -> int:
    return len(html.escape(text, quote=False).encode("utf-8"))


def fit(text: str, room: int) -> str:
    """The longest start of ``text`` (with an ellipsis when cut) whose escaped UTF-8 takes at most ``room`` bytes."""
    if _size(text) <= room:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _size(text[:middle] + ELLIPSIS) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low] + ELLIPSIS if low else ""


def description(message: Message) -> str:
    """The card's text in WeCom's HTML subset, within 512 bytes: for a work notice its item and step (gray),
    what happened (normal) and the deadline (highlight); for other notices the lines of its text. Only the
    text is shortened (what happened first), never a tag or an entity."""
    data = message.data or {}
    if data.get("summary"):
        gray = " · ".join(str(data[k]) for k in ("business_key", "step", "department") if data.get(k))
        parts = [("gray", gray), ("normal", str(data["summary"]))]
        if data.get("deadline"):
            parts.append(("highlight", str(data["deadline"])))
    else:
        lines = [line.strip() for line in message.body.splitlines()
                 if line.strip() and (not message.link or message.link not in line) and not line.startswith("——")]
        parts = [("normal", " ".join(lines))]
    room = DESCRIPTION_BYTES - sum(len(f'<div class="{css}"></div>'.encode()) for css, _ in parts)
    small = {css: fit(text, min(room // 3, 160)) for css, text in parts if css != "normal"}
    normal = fit(dict(parts)["normal"], room - sum(_size(t) for t in small.values()))
    return "".join(f'<div class="{css}">{html.escape(small.get(css, normal), quote=False)}</div>' for css, _ in parts)


class WecomChannel(Channel):
    name = "wecom"
    label = "企业微信/政务微信"

    def __init__(self, corp_id: str, agent_id: int, secret: str, api_base: str, base_url: str,
                 timeout: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.corp_id, self.agent_id, self.secret = corp_id, agent_id, secret
        self.api_base, self.base_url = api_base.rstrip("/"), base_url.rstrip("/")
        self.timeout, self.clock = timeout, clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> WecomChannel | None:
        if not (settings.wecom_corp_id and settings.wecom_agent_id is not None and settings.wecom_secret):
            return None
        return cls(settings.wecom_corp_id, settings.wecom_agent_id, settings.wecom_secret, settings.wecom_api_base,
                   settings.base_url, timeout=settings.webhook_timeout)

    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        title = (message.data or {}).get("card_title") or message.subject
        card = {"title": clip(str(title), TITLE_BYTES), "description": description(message),
                "url": message.link or self.base_url + "/", "btntxt": BUTTON}
        return [Recipient(target=str(u.id), address=u.wecom_userid, shown=f"{u.username}（企业微信）", user_id=u.id,
                          payload={"textcard": card}) for u in users if u.wecom_userid]

    # -- sending ---------------------------------------------------------------------------------
    def token(self, fresh: bool = False) -> str:
        """The access token, fetched when there is none, it is about to expire, or ``fresh``."""
        with self._lock:
            if fresh or self._token is None or self.clock() >= self._expires:
                query = urllib.parse.urlencode({"corpid": self.corp_id, "corpsecret": self.secret})
                answer = self._call(urllib.request.Request(f"{self.api_base}/cgi-bin/gettoken?{query}"), "获取凭证")
                if answer.get("errcode", 0) or not answer.get("access_token"):
                    raise DeliveryError(f"企业微信获取 access_token 失败：错误码 {answer.get('errcode')} "
                                        f"{answer.get('errmsg', '')}".rstrip())
                lifetime = float(answer.get("expires_in") or 7200)
                self._token = str(answer["access_token"])
                self._expires = self.clock() + lifetime - min(300.0, lifetime / 10)
            return self._token

    def deliver(self, message: OutboxMessage) -> None:
        body = {"touser": message.address, "msgtype": "textcard", "agentid": self.agent_id,
                "textcard": (message.payload or {})["textcard"], "enable_duplicate_check": 1,
                "duplicate_check_interval": 1800}
        answer = self._send(body, message.key, self.token())
        if answer.get("errcode") in TOKEN_ERRORS:
            answer = self._send(body, message.key, self.token(fresh=True))
        code = answer.get("errcode", 0)
        if code:
            raise DeliveryError(f"企业微信返回错误码 {code}：{answer.get('errmsg', '')}".rstrip("："))
        invalid = {u for u in str(answer.get("invaliduser") or "").lower().split("|") if u}
        if message.address.lower() in invalid:
            raise DeliveryError(f"企业微信不认识用户「{message.address}」（不在应用的可见范围内，或 UserID 有误）")

    def _send(self, body: dict, key: str, token: str) -> dict:
        url = f"{self.api_base}/cgi-bin/message/send?{urllib.parse.urlencode({'access_token': token})}"
        return _json(post_json(url, body, key, self.timeout, what="企业微信"))

    def _call(self, request: urllib.request.Request, what: str) -> dict:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _json(response.read(65536))
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"企业微信{what}返回 HTTP {exc.code}") from None
        except OSError as exc:  # never the URL: it carries the secret
            raise DeliveryError(f"企业微信{what}无法连接：{type(exc).__name__}") from None


def _json(raw: bytes) -> dict:
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        raise DeliveryError("企业微信的应答不是 JSON") from None
    if not isinstance(answer, dict):
        raise DeliveryError("企业微信的应答不是 JSON 对象")
    return answer
