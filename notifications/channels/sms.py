"""Text messages (短信) through the district's SMS gateway, to people without an account: an enterprise's
contact person, whose mobile number the item's registration gives (企业联系人及电话). Staff are reached by the
in-app inbox, email and WeCom, so this channel addresses no user.

On when ``ZJTX_SMS_GATEWAY_URL`` is set (engine.config). Each outbox row is one ``POST`` to that address with
``Content-Type: application/json; charset=utf-8``, ``Idempotency-Key: <key>`` and the body
``{"key", "mobile", "content"}`` (the content is the notice's subject and text, at most CONTENT_LIMIT
characters); any 2xx answer is a delivery, anything else a failed one that the outbox tries again.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.storage.models import OutboxMessage, User
from notifications.channels.base import Channel, Contact, Message, Recipient
from notifications.channels.http import post_json

CONTENT_LIMIT = 500  # characters: a long text message is sent in parts by the gateway


class SmsChannel(Channel):
    name = "sms"
    label = "短信"

    def __init__(self, gateway_url: str, timeout: float = 10.0):
        self.gateway_url, self.timeout = gateway_url, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsChannel | None:
        if not settings.sms_gateway_url:
            return None
        return cls(settings.sms_gateway_url, settings.webhook_timeout)

    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        return ()  # staff: the inbox, email and WeCom

    def contact_recipients(self, message: Message, contact: Contact) -> Iterable[Recipient]:
        if not contact.mobile:
            return ()
        return [Recipient(target=f"contact-{contact.mobile}", address=contact.mobile, shown=contact.mobile)]

    def deliver(self, message: OutboxMessage) -> None:
        content = f"{message.subject}\n{message.body}".strip()[:CONTENT_LIMIT]
        post_json(self.gateway_url, {"key": message.key, "mobile": message.address, "content": content},
                  message.key, self.timeout, what="短信网关")
