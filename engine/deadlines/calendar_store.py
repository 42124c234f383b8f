"""The working-day calendar as stored: administrator overrides and imported yearly notices.

The rules live in :mod:`engine.deadlines.workcalendar`; this module loads its inputs from the database
(small tables: a few dozen rows a year) and writes imports and overrides.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.deadlines.workcalendar import Arrangement, WorkCalendar
from engine.storage.models import CalendarDay, CalendarYear, utcnow


def load_calendar(session: Session) -> WorkCalendar:
    overrides = {row.day: (row.workday, row.name) for row in session.scalars(select(CalendarDay))}
    confirmed = set(session.scalars(select(CalendarYear.year)))
    return WorkCalendar(overrides=overrides, confirmed_years=confirmed)


def calendar_of(session: Session) -> WorkCalendar:
    """The calendar for this transaction, shared between transactions until a day or year changes."""
    from engine.storage.refcache import cached

    return cached(session, "calendar", load_calendar)


def import_arrangement(session: Session, arrangement: Arrangement, source: str, by: str | None) -> int:
    """Replace the year's notice days with the arrangement's, and mark the year confirmed.

    Days an administrator set by hand (source ``admin``) are kept. Returns the number of days stored.
    """
    year = arrangement.year
    session.execute(delete(CalendarDay).where(CalendarDay.year == year, CalendarDay.source != "admin"))
    manual = set(session.scalars(select(CalendarDay.day).where(CalendarDay.year == year)))
    count = 0
    for workday, days in ((False, arrangement.holidays), (True, arrangement.workdays)):
        for day, name in days:
            if day in manual:
                continue
            session.add(CalendarDay(day=day, year=day.year, workday=workday, name=name, source=source[:200]))
            count += 1
    entry = session.get(CalendarYear, year)
    if entry is None:
        session.add(CalendarYear(year=year, source=source[:200], imported_at=utcnow(), imported_by=by))
    else:
        entry.source, entry.imported_at, entry.imported_by = source[:200], utcnow(), by
    session.flush()
    return count


def set_day(session: Session, day: date, workday: bool, name: str | None) -> None:
    """An administrator's override for one day."""
    row = session.get(CalendarDay, day)
    if row is None:
        session.add(CalendarDay(day=day, year=day.year, workday=workday, name=name, source="admin"))
    else:
        row.workday, row.name, row.source = workday, name, "admin"
    session.flush()


def list_days(session: Session, limit: int = 200) -> list[CalendarDay]:
    """The stored days (imports and overrides), newest first."""
    return list(session.scalars(select(CalendarDay).order_by(CalendarDay.day.desc()).limit(limit)))
