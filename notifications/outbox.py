"""Writing notifications in the transaction of the change that caused them, through every channel."""
from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage import district
from engine.storage.models import District, NotificationPreference, User
from notifications import channels as registry
from notifications.channels import Channel, Contact, Message


@dataclass
class Notice:
    """What to say. ``key`` makes every message derived from it idempotent (``key:channel:target``)."""

    key: str
    template: str
    context: dict
    link: str | None = None
    data: dict = field(default_factory=dict)  # machine-readable part of webhook payloads


class Notifier:
    def __init__(self, channels: Sequence[Channel]):
        self.channels = list(channels)
        self.templates = Environment(loader=PackageLoader("notifications", "templates"),
                                     undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)

    def render(self, template: str, context: dict, district_name: str = "黔江区") -> tuple[str, str]:
        """Subject and body; the notices sign with the name of the district they are about (``district_name``)."""
        text = self.templates.get_template(f"{template}.txt").render(**{"district_name": district_name, **context})
        subject, _, body = text.partition("\n")
        return subject.strip(), body.strip() + "\n"

    def notify(self, session: Session, notice: Notice, users: Sequence[User], department_id: int | None,
               now: datetime, only: Callable[[Channel], bool] | None = None) -> list[dict]:
        """Queue ``notice`` for ``users`` (on the channels they have not switched off) and for the
        department's endpoints, on every channel (those ``only`` accepts, when given).

        Returns the recipients as ``[{"channel": …, "to": …}]`` for the record.
        """
        subject, body = self.render(notice.template, {**notice.context, "link": notice.link or ""},
                                    _district_name(session))
        message = Message(key=notice.key, subject=subject, body=body, link=notice.link, data=notice.data)
        switched_off = _switched_off(session, users)
        recipients = []
        for channel in self.channels:
            if only is not None and not only(channel):
                continue
            addressed = [u for u in users if (u.id, channel.name) not in switched_off] if channel.personal else users
            for recipient in channel.recipients(session, message, addressed, department_id):
                channel.write(session, message, recipient, now)
                recipients.append({"channel": channel.name, "to": recipient.shown})
        return recipients


    def notify_contact(self, session: Session, notice: Notice, contact: Contact, now: datetime) -> list[dict]:
        """Queue ``notice`` for someone without an account (an enterprise's contact) on every channel that
        can reach them; their own preferences do not exist. Returns the recipients for the record."""
        values = {**notice.context, "link": notice.link or ""}
        subject, body = self.render(notice.template, values, _district_name(session))
        message = Message(key=notice.key, subject=subject, body=body, link=notice.link, data=notice.data,
                          template=notice.template, params={k: str(v) for k, v in values.items()
                                                            if isinstance(v, str | int | float | date)})
        recipients = []
        for channel in self.channels:
            for recipient in channel.contact_recipients(message, contact):
                channel.write(session, message, recipient, now)
                recipients.append({"channel": channel.name, "to": recipient.shown})
        return recipients


def _switched_off(session: Session, users: Sequence[User]) -> set[tuple[int, str]]:
    if not users:
        return set()
    return set(session.execute(
        select(NotificationPreference.user_id, NotificationPreference.channel).where(
            NotificationPreference.user_id.in_([u.id for u in users]),
            NotificationPreference.enabled.is_(False))).all())


def set_preference(session: Session, user_id: int, channel: str, enabled: bool) -> None:
    """Switch one of the registered channels on or off for a user."""
    if channel not in registry.names():
        raise ValueError(channel)
    pref = session.get(NotificationPreference, (user_id, channel))
    if pref is None:
        session.add(NotificationPreference(user_id=user_id, channel=channel, enabled=enabled))
    else:
        pref.enabled = enabled


# database engine → {district id → name} (districts are made a few times a year, never renamed here)
_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _district_name(session: Session) -> str:
    """The name of the district whose unit of work is writing the notice (engine/storage/district.py)."""
    current = district.current()
    names = _NAMES.setdefault(session.get_bind().engine, {})
    if current not in names:
        names.update(dict(session.execute(select(District.id, District.name)).all()))
    return names.get(current, "黔江区")
