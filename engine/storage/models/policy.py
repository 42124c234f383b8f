"""The policy's records: the enterprise registry (years, changes), circulars, measure reports."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.storage import district
from engine.storage.district import FIRST_DISTRICT
from engine.storage.models.base import Base, DistrictScoped, JSONType, UTCDateTime, utcnow


class Enterprise(DistrictScoped, Base):
    """An enterprise in the registry (企业库), the candidate pool and the cultivation pool."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True, default=district.row_default,
                                             server_default=str(FIRST_DISTRICT))
    name: Mapped[str] = mapped_column(String(200), index=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    registered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    in_district: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    independent_legal_person: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    industry: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    employees: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tier: Mapped[str] = mapped_column(String(20), default="none", index=True)
    tier_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    tier_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    # The recognition's end the service officer was reminded of (six months before it): told once per recognition.
    tier_reminded_for: Mapped[date | None] = mapped_column(Date, nullable=True)
    in_pool: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    pool_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    pool_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    service_officer_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    # The plan's scope (二（一）): the 领域 the enterprise works in, the 重点支持 field of its main product, and for a
    # financial firm its 业态 (sized by 《金融业企业划型标准规定》, not the 2011 standard). engine.policy.pool.scope
    sector: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    key_field: Mapped[str | None] = mapped_column(String(40), nullable=True)
    financial_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # 科技型企业, kept by 区科技局 from its list: counted by the goals while valid (tech_valid_until none: no end).
    tech_since: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    tech_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    years: Mapped[list[EnterpriseYear]] = relationship(cascade="all, delete-orphan", order_by="EnterpriseYear.year",
                                                      lazy="selectin")


class EnterpriseYear(DistrictScoped, Base):
    """One year's figures, in yuan."""

    __tablename__ = "enterprise_year"
    __table_args__ = (UniqueConstraint("enterprise_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float | None] = mapped_column(Float, nullable=True)
    rd_expense: Mapped[float | None] = mapped_column(Float, nullable=True)
    net_profit: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_assets: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_liabilities: Mapped[float | None] = mapped_column(Float, nullable=True)


class EnterpriseChange(DistrictScoped, Base):
    """Who changed what in an enterprise's record, field by field."""

    __tablename__ = "enterprise_change"
    __table_args__ = (Index("ix_enterprise_change_enterprise", "enterprise_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(32))  # form | import | admission
    changes: Mapped[dict] = mapped_column(JSONType)


class Circular(DistrictScoped, Base):
    """A circular (通报). Once published it is never changed: figures and text are kept as issued."""

    __tablename__ = "circular"
    # Each district numbers its own circulars.
    __table_args__ = (UniqueConstraint("district_id", "year", "seq", name="uq_circular_district_year_seq"),
                      UniqueConstraint("district_id", "number", name="uq_circular_district_number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)  # draft | published
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    figures: Mapped[dict] = mapped_column(JSONType)
    text: Mapped[str] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MeasureReport(DistrictScoped, Base):
    """A measure's progress report and 区经济信息委's assessment for one period."""

    __tablename__ = "measure_report"
    __table_args__ = (UniqueConstraint("district_id", "measure_no", "period_start", name="uq_measure_report_district_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_no: Mapped[int] = mapped_column(ForeignKey("measure.no"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date, index=True)
    lead_department: Mapped[str] = mapped_column(String(100))
    lead_is_written: Mapped[bool] = mapped_column(Boolean, default=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    contributions: Mapped[list] = mapped_column(JSONType, default=list)
    assessment: Mapped[str | None] = mapped_column(String(16), nullable=True)  # 已完成 | 推进中 | 滞后
    assessment_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    follow_up: Mapped[str | None] = mapped_column(Text, nullable=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
