"""The in-app inbox: written with the change, read on the 消息 page; nothing to deliver.

Links into the system (those under ``ZJTX_BASE_URL``) are kept as paths, ``/tasks/12``: the inbox is read
on the site itself, so its links work whatever host, port or proxy the reader reached it by (a base URL
left at its default, or a server started with ``zjtx serve --port``). Email and WeCom, read elsewhere,
carry the absolute address.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.storage.models import InboxMessage, User
from notifications.channels.base import SUBJECT_LIMIT, Channel, Message, Recipient


def site_path(link: str | None, base_url: str | None) -> str | None:
    """``link`` as a path when it points under ``base_url`` (``https://x/tasks/3`` → ``/tasks/3``)."""
    if not link or not base_url:
        return link
    base = base_url.rstrip("/")
    if link == base:
        return "/"
    if link.startswith(base + "/"):
        return link[len(base):]
    return link


class InboxChannel(Channel):
    name = "inbox"
    label = "站内消息"
    queued = False

    def __init__(self, base_url: str | None = None):
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings: Settings) -> InboxChannel:
        return cls(settings.base_url)

    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        return [Recipient(target=str(u.id), address=u.username, shown=u.username, user_id=u.id) for u in users]

    def write(self, session: Session, message: Message, recipient: Recipient, now: datetime) -> None:
        link = site_path(message.link, self.base_url)
        body = message.body.replace(message.link, link) if message.link and link else message.body
        session.add(InboxMessage(key=f"{message.key}:{self.name}:{recipient.target}", user_id=recipient.user_id,
                                 title=message.subject[:SUBJECT_LIMIT], body=body, link=link, created_at=now))
