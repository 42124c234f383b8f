"""拟培育库 guidance: the enterprises that miss the cultivation standard by one criterion (their gap, kept
current when the figures change) and the industry department's guidance visits to them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, JSONType, UTCDateTime, utcnow


class GuidanceGap(DistrictScoped, Base):
    """One enterprise one criterion short of the standard: which criterion, its value and the standard.
    Rewritten (or deleted) whenever the enterprise's figures are saved; read by department, never computed
    on a page load."""

    __tablename__ = "guidance_gap"
    __table_args__ = (Index("ix_guidance_gap_department", "department", "enterprise_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), unique=True)
    enterprise_name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(100))  # the industry's reviewing department (industries.json)
    criterion: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(500))  # e.g. 上年研发投入占营业收入比重 1.60%，标准 ≥ 2%，差 0.40%
    gaps: Mapped[list] = mapped_column(JSONType)  # [{criterion, label, value, threshold, shortfall, unit}]
    figures_year: Mapped[int] = mapped_column()
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuidanceVisit(DistrictScoped, Base):
    """A guidance visit (上门指导) by the industry department: when, who, what was advised, the next step."""

    __tablename__ = "guidance_visit"
    __table_args__ = (Index("ix_guidance_visit_enterprise", "enterprise_id", "visited_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(100))
    visited_on: Mapped[date] = mapped_column(Date)
    visitors: Mapped[str] = mapped_column(String(200))
    advice: Mapped[str] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
