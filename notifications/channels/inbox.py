"""The in-app inbox: written with the change, read on the 消息 page; nothing to deliver."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.storage.models import InboxMessage, User
from notifications.channels.base import SUBJECT_LIMIT, Channel, Message, Recipient


class InboxChannel(Channel):
    name = "inbox"
    label = "站内消息"
    queued = False

    @classmethod
    def from_settings(cls, settings: Settings) -> InboxChannel:
        return cls()

    def recipients(self, session: Session, message: Message, users: Sequence[User],
                   department_id: int | None) -> Iterable[Recipient]:
        return [Recipient(target=str(u.id), address=u.username, shown=u.username, user_id=u.id) for u in users]

    def write(self, session: Session, message: Message, recipient: Recipient, now: datetime) -> None:
        session.add(InboxMessage(key=f"{message.key}:{self.name}:{recipient.target}", user_id=recipient.user_id,
                                 title=message.subject[:SUBJECT_LIMIT], body=message.body, link=message.link,
                                 created_at=now))
