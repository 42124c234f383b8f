"""The interface every notification channel implements.

A channel has a ``name`` (stored in ``outbox_message.channel`` and ``notification_preference.channel``,
at most 16 characters) and a Chinese ``label``; it is built from the settings (:meth:`Channel.from_settings`
returns None when it is not configured, and the channel is then off); for each notification it finds
the recipients' addresses (:meth:`Channel.recipients`: a user's email address, a department's webhooks …)
and writes what is to be sent in the transaction of the change (:meth:`Channel.write`: by default an
outbox row); the delivery job later hands each outbox row to :meth:`Channel.deliver`. A channel that can reach someone
without an account (an enterprise's contact: an email address, a mobile number) says where in
:meth:`Channel.contact_recipients`.

``personal`` channels reach users, each of whom may switch the channel off (a NotificationPreference
row); the others reach the department's endpoints. A channel that is not ``queued`` is done when it has
written (the in-app inbox) and is never given to the delivery job.

Nothing here may import other engine packages than ``engine.storage`` and ``engine.config``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.storage.models import OutboxMessage, User

SUBJECT_LIMIT = 300  # outbox_message.subject, inbox_message.title


class DeliveryError(Exception):
    """Sending failed; the outbox row is tried again later (and becomes a dead letter after the last try)."""


@dataclass(frozen=True)
class Message:
    """A notice rendered once for all channels. Every row written for it has the key ``key:channel:target``."""

    key: str
    subject: str
    body: str
    link: str | None = None
    data: dict = field(default_factory=dict)  # the machine-readable part (webhook payloads)
    template: str = ""  # the notice's name, and its values as text: what a template-based SMS provider sends
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    """Someone without an account the system may reach directly: an enterprise's contact person, as the
    item's registration gives them (an email address, a mainland mobile number, either or both)."""

    label: str
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Recipient:
    target: str  # the last part of the idempotency key: a user's id, an endpoint's id
    address: str  # where deliver() sends it: an email address, a URL, a phone number (the inbox: the user name)
    shown: str  # who it went to, for the record (escalation.recipients)
    user_id: int | None = None
    payload: dict | None = None  # what deliver() needs besides the text, kept on the outbox row


class Channel(ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    personal: ClassVar[bool] = True
    queued: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Channel | None:
        """The channel as configured, or None when it is switched off (e.g. no SMTP host)."""

    @abstractmethod
    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        """Where ``message`` goes. ``users`` are the addressed users who have not switched this channel
        off; ``department_id`` is the department concerned (None: none in particular)."""

    def contact_recipients(self, message: Message, contact: Contact) -> Iterable[Recipient]:
        """Where ``message`` goes for a contact without an account (none: the channel cannot reach them)."""
        return ()

    def write(self, session: Session, message: Message, recipient: Recipient, now: datetime) -> None:
        """Record the message for ``recipient`` in the caller's transaction: an outbox row to deliver."""
        session.add(OutboxMessage(
            key=f"{message.key}:{self.name}:{recipient.target}", channel=self.name, user_id=recipient.user_id,
            address=recipient.address, subject=message.subject[:SUBJECT_LIMIT], body=message.body,
            payload=recipient.payload, status="pending", attempts=0, next_attempt_at=now, created_at=now))

    def deliver(self, message: OutboxMessage) -> None:
        """Send one outbox row (outside any transaction); raise DeliveryError when it could not be sent."""
        raise NotImplementedError(f"{self.name} is not a queued channel")
