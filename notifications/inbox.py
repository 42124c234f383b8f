"""The in-app channel as users see it: their messages, unread count, marking read."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, update

from engine.storage.models import InboxMessage, OutboxMessage
from notifications.delivery import STATUS_LABELS
from notifications.errors import MessageNotFound


def unread_count(db, user_id: int) -> int:
    with db.read() as session:
        return session.scalar(select(func.count(InboxMessage.id)).where(
            InboxMessage.user_id == user_id, InboxMessage.read_at.is_(None))) or 0


def messages(db, user_id: int, limit: int = 50, offset: int = 0) -> list[InboxMessage]:
    with db.read() as session:
        return list(session.scalars(select(InboxMessage).where(InboxMessage.user_id == user_id)
                                    .order_by(InboxMessage.id.desc()).limit(limit).offset(offset)))


def mark_read(db, user_id: int, now: datetime, message_id: int | None = None) -> int:
    """Mark one of the user's messages (or all of them) read; another user's message is never touched:
    naming one that is not the user's is MessageNotFound, as if it did not exist."""
    with db.write() as session:
        if message_id is not None and session.scalar(select(InboxMessage.id).where(
                InboxMessage.id == message_id, InboxMessage.user_id == user_id)) is None:
            raise MessageNotFound(message_id)
        query = update(InboxMessage).where(InboxMessage.user_id == user_id, InboxMessage.read_at.is_(None))
        if message_id is not None:
            query = query.where(InboxMessage.id == message_id)
        return session.execute(query.values(read_at=now)).rowcount


def outbox_messages(db, status: str | None = None, limit: int = 100) -> list[dict]:
    with db.read() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        return [{"id": m.id, "channel": m.channel, "to": m.address, "subject": m.subject, "status": m.status,
                 "status_label": STATUS_LABELS[m.status], "attempts": m.attempts, "last_error": m.last_error,
                 "created_at": m.created_at, "sent_at": m.sent_at} for m in session.scalars(query)]


class Reader(Protocol):
    """Who is reading (an engine.identity.authz.Actor): only their own messages are shown or marked."""

    user_id: int | None


class Inbox:
    """The signed-in user's inbox as a service; each method is one transaction."""

    def __init__(self, db, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    def unread_count(self, reader: Reader) -> int:
        return unread_count(self.db, reader.user_id) if reader.user_id is not None else 0

    def messages(self, reader: Reader, limit: int = 50, offset: int = 0) -> list[InboxMessage]:
        return messages(self.db, reader.user_id, limit, offset) if reader.user_id is not None else []

    def mark_read(self, reader: Reader, message_id: int | None = None) -> int:
        """Mark one of the reader's messages (or all of them) read; returns how many changed."""
        if reader.user_id is None:
            return 0
        return mark_read(self.db, reader.user_id, self.clock(), message_id)
