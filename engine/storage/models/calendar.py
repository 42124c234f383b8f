"""The working calendar's overrides and notices, and the reference-data generations."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage import district
from engine.storage.models.base import Base, DistrictScoped, UTCDateTime, utcnow


class CalendarDay(Base):
    """An administrator's or an imported notice's day: a holiday, or a make-up working day."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    source: Mapped[str] = mapped_column(String(200))


class DistrictCalendarDay(DistrictScoped, Base):
    """A district's own day over the national calendar: its 调休 notice, or a day its administrators changed."""

    __tablename__ = "district_calendar_day"

    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), primary_key=True,
                                             default=district.row_default,
                                             server_default=str(district.FIRST_DISTRICT))
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    set_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    set_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=utcnow)


class CalendarYear(Base):
    """A year whose State Council arrangement was imported: its results are confirmed."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ReferenceGeneration(Base):
    """How many times a kind of reference data (``org``, ``calendar``) has changed: caches check it."""

    __tablename__ = "reference_generation"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
