"""The outbox for administrators: what is queued, sent or dead, and sending a dead letter again.

Requeueing a message whose failure opened an incident resolves the incident (in the incident's
transaction, audited there); any other dead letter is requeued with an audit record of its own.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.identity.authz import Actor
from engine.identity.service import require_admin
from engine.storage.models import AuditRecord
from notifications.delivery import Deliverer
from notifications.inbox import outbox_messages


class OutboxService:
    def __init__(self, db, deliverer: Deliverer, incidents, clock: Callable[[], datetime]):
        self.db = db
        self.deliverer = deliverer
        self.incidents = incidents  # engine.monitoring.incidents.IncidentService
        self.clock = clock

    def list(self, actor: Actor, status: str | None = None, limit: int = 100) -> list[dict]:
        """The newest messages (of one status, when given)."""
        require_admin(actor, "查看通知发送记录")
        return outbox_messages(self.db, status, limit)

    def retry(self, actor: Actor, message_id: int) -> dict:
        """Put a dead letter back in the queue. ``{"requeued": bool, "incident": id or None}``; the
        incident service's errors (resolved meanwhile …) pass through."""
        require_admin(actor, "重新发送通知")
        incident_id = self.incidents.open_for_message(message_id)
        if incident_id is not None:  # resending it also closes its incident
            self.incidents.retry(incident_id, actor)
            return {"requeued": True, "incident": incident_id}
        with self.db.write() as session:
            requeued = self.deliverer.retry_in(session, message_id)
            if requeued:
                session.add(AuditRecord(action="message_retried", actor=actor.username, at=self.clock(),
                                        data={"message_id": message_id}))
        return {"requeued": requeued, "incident": None}
