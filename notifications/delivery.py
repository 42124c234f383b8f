"""Sending outbox rows: claim with a lease, send outside the transaction, mark sent or retry.

A crash between claiming and marking leaves the row ``sending`` with an expired lease; the next
run takes it again (at-least-once; the idempotency key travels with the message). Failures back
off exponentially and become dead letters after ``max_attempts``; an admin can retry them.

A batch is claimed at once but sent one message after the other, so the lease is renewed just
before each message is sent, on the condition that it is still the one this run holds: a message
whose lease ran out while the earlier ones were being sent (a slow mail server) may have been taken
by another scheduler, and is then left to it instead of being sent twice. Marking the result is
conditional on the same lease.

A message that becomes a dead letter is handed to ``on_dead`` (bootstrap sets it to the incident
service) in the transaction that marks it dead, so that an administrator hears of it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from engine.storage.models import OutboxMessage
from notifications.channels import Channel, DeliveryError

log = logging.getLogger("zjtx.delivery")

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUS_LABELS = {PENDING: "待发送", SENDING: "发送中", SENT: "已发送", DEAD: "发送失败（死信）"}


class Deliverer:
    def __init__(self, db, channels: Iterable[Channel] | Mapping[str, Channel], clock: Callable[[], datetime],
                 max_attempts: int = 6, backoff_seconds: float = 30.0, lease_seconds: float = 120.0):
        self.db = db
        # The queued channels by name: only their rows are claimed, each is sent by its channel.
        self.channels: dict[str, Channel] = dict(channels) if isinstance(channels, Mapping) else {
            c.name: c for c in channels if c.queued}
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.lease = lease_seconds
        # on_dead(session, message, error): called in the transaction that makes ``message`` a dead letter.
        self.on_dead: Callable[[Session, OutboxMessage, str], object] | None = None

    def _is_due(self, now: datetime):
        return and_(or_(and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
                        and_(OutboxMessage.status == SENDING, OutboxMessage.lease_until <= now)),
                    OutboxMessage.channel.in_(list(self.channels)))

    def due_probe(self, now: datetime):
        """A query with a row when some message is due to be sent (or taken over)."""
        return select(OutboxMessage.id).where(self._is_due(now))

    def _claim(self, limit: int) -> list[OutboxMessage]:
        now = self.clock()
        is_due = self._is_due(now)
        with self.db.read() as session:  # nothing due is the common case: no write lock for it
            if session.scalar(select(OutboxMessage.id).where(is_due).limit(1)) is None:
                return []
        with self.db.write() as session:
            due = (select(OutboxMessage).where(is_due)
                   .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                   .limit(limit)
                   .with_for_update(skip_locked=True))
            rows = list(session.scalars(due))
            for row in rows:
                row.status = SENDING
                row.lease_until = now + timedelta(seconds=self.lease)
            session.flush()
            for row in rows:
                session.expunge(row)
            return rows

    def deliver_due(self, limit: int = 50) -> int:
        """Send what is due; returns how many were sent successfully."""
        sent = 0
        for message in self._claim(limit):
            lease = self._renew(message)
            if lease is None:
                continue  # its lease ran out while the batch's earlier messages were sent; another run has it
            try:
                self.channels[message.channel].deliver(message)
            except DeliveryError as exc:
                self._failed(message, str(exc), lease)
            else:
                if not self._finish(message.id, lease, {"status": SENT, "sent_at": self.clock(), "lease_until": None,
                                                        "attempts": message.attempts + 1, "last_error": None}):
                    log.warning("outbox message %s was sent after its lease had run out; another scheduler may "
                                "send it again (key %s)", message.id, message.key)
                sent += 1
        return sent

    def _renew(self, message: OutboxMessage) -> datetime | None:
        """Extend the lease of a claimed message if this run still holds it; the new lease, or None."""
        lease = self.clock() + timedelta(seconds=self.lease)
        with self.db.write() as session:
            changed = session.execute(update(OutboxMessage)
                                      .where(OutboxMessage.id == message.id, OutboxMessage.status == SENDING,
                                             OutboxMessage.lease_until == message.lease_until)
                                      .values(lease_until=lease)).rowcount
        return lease if changed == 1 else None

    def _failed(self, message: OutboxMessage, error: str, lease: datetime) -> None:
        attempts = message.attempts + 1
        then = None
        if attempts >= self.max_attempts:
            values = {"status": DEAD, "attempts": attempts, "last_error": error, "lease_until": None}
            then = (lambda session: self._dead(session, message, error)) if self.on_dead else None
        else:
            delay = timedelta(seconds=self.backoff * (2 ** (attempts - 1)))
            values = {"status": PENDING, "attempts": attempts, "last_error": error, "lease_until": None,
                      "next_attempt_at": self.clock() + delay}
        self._finish(message.id, lease, values, then)

    def _dead(self, session: Session, message: OutboxMessage, error: str) -> None:
        # In a savepoint: if recording the incident fails, the message is still marked dead (else it
        # would stay 'sending' and be sent again when its lease runs out, and fail again, forever).
        try:
            with session.begin_nested():
                self.on_dead(session, message, error)
        except Exception:
            log.exception("outbox message %s became a dead letter; recording the incident failed", message.id)

    def _finish(self, message_id: int, lease: datetime, values: dict,
                then: Callable[[Session], None] | None = None) -> bool:
        """Record the outcome if the lease is still ours (else another run has taken the message);
        ``then(session)`` runs in the same transaction when it was."""
        with self.db.write() as session:
            done = session.execute(update(OutboxMessage)
                                   .where(OutboxMessage.id == message_id, OutboxMessage.status == SENDING,
                                          OutboxMessage.lease_until == lease)
                                   .values(**values)).rowcount == 1
            if done and then is not None:
                then(session)
            return done

    def retry(self, message_id: int) -> bool:
        """Put a dead letter back in the queue (by hand). Returns False if it was not dead."""
        with self.db.write() as session:
            return self.retry_in(session, message_id)

    def retry_in(self, session: Session, message_id: int) -> bool:
        """:meth:`retry` inside the caller's transaction (the incident service resolves the incident with it)."""
        result = session.execute(update(OutboxMessage)
                                 .where(OutboxMessage.id == message_id, OutboxMessage.status == DEAD)
                                 .values(status=PENDING, attempts=0, next_attempt_at=self.clock(),
                                         last_error=None)
                                 .execution_options(synchronize_session=False))
        return cast(CursorResult, result).rowcount == 1

