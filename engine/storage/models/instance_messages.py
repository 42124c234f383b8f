"""Messages the engine delivers to a waiting instance (a BPMN message catch event), kept until delivered.

A sender writes the row in its own transaction (the master item's completion writes one per merged item),
so a crash after that commit loses nothing: the instance is due at once (``next_timer_at``) and the
scheduler's round delivers it, in the transaction that saves the instance with its revision checked
(engine/runtime/messages.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, JSONType, UTCDateTime, utcnow


class InstanceMessage(DistrictScoped, Base):
    """One message to one instance. ``key``: unique, so a sender that runs twice sends once.
    ``delivered_at``: when the instance caught it (None: still to deliver)."""

    __tablename__ = "instance_message"
    __table_args__ = (Index("ix_instance_message_pending", "instance_id", "delivered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    sender_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="SET NULL"),
                                                           nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
