"""Supervision by people: 挂牌督办 (an item listed for supervision by the leading-group office or a district
leader, with its numbered 督办函 and the lead unit's progress reports) and the office's choice to name a
unit in the circular (点名), read by the circular by period."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, UTCDateTime


class ListedSupervision(DistrictScoped, Base):
    """One 挂牌督办 of a problem item, run by its own listed_supervision instance. The 督办函's number is
    the year's next ``seq`` (黔江专精特新督〔2026〕3号), allocated when the letter is issued; (year, seq) is
    unique, so two letters issued at once never share a number."""

    __tablename__ = "listed_supervision"
    __table_args__ = (UniqueConstraint("district_id", "year", "seq", name="uq_listed_supervision_number"),
                      Index("ix_listed_supervision_item", "item_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    # listing (the letter not yet issued) | active | lifted (by the office) | closed (the item closed)
    status: Mapped[str] = mapped_column(String(16), index=True)
    colour: Mapped[str] = mapped_column(String(4))  # 蓝 | 黄 | 红
    reason: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    report_every: Mapped[int] = mapped_column(Integer)
    first_report_due: Mapped[date | None] = mapped_column(Date, nullable=True)  # as the letter states it
    next_report_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    instruction: Mapped[str | None] = mapped_column(Text, nullable=True)  # 领导批示
    instruction_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    instruction_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    issued_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    end_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    named_in_circular: Mapped[bool] = mapped_column(Boolean, default=False)


class SupervisionReport(DistrictScoped, Base):
    """A progress report (督办回复) of the lead unit and the office's review of it."""

    __tablename__ = "listed_supervision_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listed_supervision.id", ondelete="CASCADE"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(String(64))
    progress: Mapped[str | None] = mapped_column(String(16), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)  # continue | lift | raise
    colour: Mapped[str | None] = mapped_column(String(4), nullable=True)  # the slip's colour after the review
    review_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CircularNaming(DistrictScoped, Base):
    """The office named a unit for the circular (在通报中点名): closing a 督办 item the clock raised
    (``source`` supervision, ``task_id`` that item) or lifting a 挂牌督办 (``source`` listed). The circular
    of a period lists the rows ``named_at`` within it (indexed), beside the units its figures name."""

    __tablename__ = "circular_naming"

    id: Mapped[int] = mapped_column(primary_key=True)
    named_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    named_by: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # supervision | listed
    item_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), nullable=True, index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listed_supervision.id"), nullable=True)
    colour: Mapped[str | None] = mapped_column(String(4), nullable=True)
    matter: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
