"""The enterprise portal's pool part: yearly figures an enterprise submits for its service officer to confirm,
and objections anyone files against an admission in its public notice (公示)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, JSONType, UTCDateTime, utcnow


class EnterpriseYearUpdate(DistrictScoped, Base):
    """Last year's figures as the enterprise gives them: pending until its service officer confirms them
    (then written to the registry with its change log) or refuses them with a reason."""

    __tablename__ = "enterprise_year_update"
    __table_args__ = (Index("ix_enterprise_year_update_enterprise", "enterprise_id", "id"),
                      Index("ix_enterprise_year_update_status", "status", "submitted_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict] = mapped_column(JSONType)  # revenue, rd_expense, net_profit, total_assets, … employees
    status: Mapped[str] = mapped_column(String(16))  # pending | confirmed | refused
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the portal contact who submitted
    submitted_by: Mapped[str] = mapped_column(String(100))  # that contact's name, as shown to the officer
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class NoticeObjection(DistrictScoped, Base):
    """An objection from anyone (no account) to an admission in its public notice; 区经济信息委 is told and
    registers it on the admission's 公示期异议登记 step if it holds."""

    __tablename__ = "notice_objection"
    __table_args__ = (Index("ix_notice_objection_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the client address, for abuse
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
