"""Objections to a circular's figures (通报数据异议): a member unit contests one of its own figures before the
office approves; 区经济信息委 accepts it (the corrected value goes into the circular, the computed one is kept)
or refuses it with a reason."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, UTCDateTime, utcnow


class CircularObjection(DistrictScoped, Base):
    """One contested figure of one unit's row. Read by circular (and status) and by unit, never scanned."""

    __tablename__ = "circular_objection"
    __table_args__ = (Index("ix_circular_objection_circular", "circular_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circular_id: Mapped[int] = mapped_column(ForeignKey("circular.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    figure: Mapped[str] = mapped_column(String(40))
    figure_label: Mapped[str] = mapped_column(String(40))
    computed: Mapped[float | None] = mapped_column(Float, nullable=True)  # as the figures computed it
    claimed: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | accepted | refused
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    corrected: Mapped[float | None] = mapped_column(Float, nullable=True)
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
