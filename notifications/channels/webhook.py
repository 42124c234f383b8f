"""Webhooks: JSON posts to the department's endpoints (``zjtx webhook add``), WeCom/DingTalk group robots.

Request: ``POST`` with ``Content-Type: application/json; charset=utf-8`` and ``Idempotency-Key: <key>``;
the body is ``{"key", "subject", "body", "link", "data"}``, or for a group robot (format ``wecom`` or
``dingtalk``) ``{"msgtype": "text", "text": {"content": "<subject>\\n<body>"}}``. Any HTTP error, or a
robot's non-zero ``errcode``, is a failed delivery.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.storage.models import OutboxMessage, User, WebhookEndpoint
from notifications.channels.base import Channel, DeliveryError, Message, Recipient
from notifications.channels.http import post_json

ROBOT_FORMATS = ("wecom", "dingtalk")


def webhook_body(message: OutboxMessage) -> dict:
    payload = message.payload or {}
    text = f"{message.subject}\n{message.body}"
    if payload.get("format", "json") in ROBOT_FORMATS:
        return {"msgtype": "text", "text": {"content": text}}
    return {"key": message.key, "subject": message.subject, "body": message.body,
            "link": payload.get("link"), "data": payload.get("data") or {}}


class WebhookChannel(Channel):
    name = "webhook"
    label = "群机器人/Webhook"
    personal = False

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel:
        return cls(timeout=settings.webhook_timeout)

    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        """The enabled endpoints of the department and those of no department (they hear of everything)."""
        endpoints = session.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.enabled.is_(True),
            or_(WebhookEndpoint.department_id.is_(None), WebhookEndpoint.department_id == department_id)))
        return [Recipient(target=str(e.id), address=e.url, shown=e.name,
                          payload={"format": e.format, "link": message.link, "data": message.data})
                for e in endpoints]

    def deliver(self, message: OutboxMessage) -> None:
        answer = post_json(message.address, webhook_body(message), message.key, self.timeout)
        if (message.payload or {}).get("format") in ROBOT_FORMATS:
            # Group robots answer 200 with an error code in the body.
            try:
                code = json.loads(answer or b"{}").get("errcode", 0)
            except ValueError:
                code = 0
            if code:
                raise DeliveryError(f"群机器人返回错误码 {code}")
