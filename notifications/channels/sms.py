"""Text messages (短信) to people without an account: an enterprise's contact person, whose mobile number the
item's registration or the portal gives (企业联系人及电话). Staff are reached by the in-app inbox, email and WeCom,
so this channel addresses no user.

On when a provider is configured (engine.config ``ZJTX_SMS_PROVIDER``: ``gateway``, the default, with
``ZJTX_SMS_GATEWAY_URL``; or ``tencent``): each outbox row is one message that the provider adapter
(notifications/channels/sms_providers.py) sends; a failed send is tried again by the outbox. The row keeps the
rendered text and, in its payload, the notice's name and values, for a provider that sends approved templates.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from engine.config import Settings, load_sms_templates
from engine.storage.models import OutboxMessage, User
from notifications.channels.base import Channel, Contact, Message, Recipient
from notifications.channels.sms_providers import GatewayAdapter, Outgoing, TencentAdapter


def adapter_of(settings: Settings):
    if settings.sms_provider == "tencent":
        return TencentAdapter(settings.sms_gateway_url or "https://sms.tencentcloudapi.com",
                              settings.sms_secret_id or "", settings.sms_secret_key or "", settings.sms_app_id or "",
                              settings.sms_sign_name or "", settings.sms_region,
                              load_sms_templates(settings.sms_templates), settings.webhook_timeout)
    if settings.sms_gateway_url:
        return GatewayAdapter(settings.sms_gateway_url, settings.webhook_timeout)
    return None


class SmsChannel(Channel):
    name = "sms"
    label = "短信"

    def __init__(self, adapter):
        self.adapter = adapter

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsChannel | None:
        adapter = adapter_of(settings)
        return cls(adapter) if adapter is not None else None

    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        return ()  # staff: the inbox, email and WeCom

    def contact_recipients(self, message: Message, contact: Contact) -> Iterable[Recipient]:
        if not contact.mobile:
            return ()
        return [Recipient(target=f"contact-{contact.mobile}", address=contact.mobile, shown=contact.mobile,
                          payload={"template": message.template, "params": message.params})]

    def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload or {}
        self.adapter.send(Outgoing(key=message.key, mobile=message.address,
                                   text=f"{message.subject}\n{message.body}".strip(),
                                   template=str(payload.get("template") or ""), params=dict(payload.get("params") or {})))
