"""The notification channels and their registry.

:data:`REGISTERED` lists the channel classes in the order the notifier writes them; bootstrap builds
them from the settings (:func:`build`), the notifier writes each notification through every built
channel and the delivery job sends the outbox rows of the queued ones. Neither knows any channel by
name.

Adding a channel (say SMS): one module here with a :class:`~notifications.channels.base.Channel`
subclass (its ``name``, ``label``, ``from_settings``, ``recipients`` and ``deliver``), its settings in
:class:`engine.config.Settings` (and ``from_env``), and one entry in :data:`REGISTERED` — or
:func:`register` from elsewhere before bootstrap. Users switch it off like the others
(``zjtx notify-pref USER sms off``); tests/test_notifications.py registers such a channel in a test.
"""
from __future__ import annotations

from engine.config import Settings
from notifications.channels.base import Channel, Contact, DeliveryError, Message, Recipient
from notifications.channels.email import EmailChannel
from notifications.channels.inbox import InboxChannel
from notifications.channels.sms import SmsChannel
from notifications.channels.webhook import WebhookChannel, webhook_body
from notifications.channels.wecom import WecomChannel

REGISTERED: list[type[Channel]] = [InboxChannel, EmailChannel, WebhookChannel, WecomChannel, SmsChannel]


def register(channel: type[Channel]) -> type[Channel]:
    """Add a channel class (or replace the one of the same name); usable as a class decorator."""
    unregister(channel.name)
    REGISTERED.append(channel)
    return channel


def unregister(name: str) -> None:
    REGISTERED[:] = [c for c in REGISTERED if c.name != name]


def build(settings: Settings) -> list[Channel]:
    """The channels the settings switch on, in registry order."""
    return [c for c in (cls.from_settings(settings) for cls in REGISTERED) if c is not None]


def names() -> list[str]:
    return [c.name for c in REGISTERED]


def labels() -> dict[str, str]:
    return {c.name: c.label for c in REGISTERED}


__all__ = ["REGISTERED", "Channel", "Contact", "DeliveryError", "EmailChannel", "InboxChannel", "Message", "Recipient",
           "SmsChannel", "WebhookChannel", "WecomChannel", "build", "labels", "names", "register", "unregister", "webhook_body"]
