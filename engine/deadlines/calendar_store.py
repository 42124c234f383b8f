"""The working-day calendar as stored: the national notices (shared by every district) and a district's own days.

The rules live in :mod:`engine.deadlines.workcalendar`; this module loads its inputs from the database
(small tables: a few dozen rows a year) and writes imports and overrides. The national calendar is the State
Council's yearly arrangement (``calendar_day``, ``calendar_year``); a district's administrators change a day for
their district only (``district_calendar_day``: a local 调休 notice), which wins over the national day in that
district's deadlines and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.deadlines.workcalendar import Arrangement, WorkCalendar
from engine.storage import district
from engine.storage.models import CalendarDay, CalendarYear, DistrictCalendarDay, utcnow


def load_calendar(session: Session) -> WorkCalendar:
    """The calendar of the current district: the national days with the district's own over them (in the
    city-wide scope, the national days alone)."""
    overrides = {row.day: (row.workday, row.name) for row in session.scalars(select(CalendarDay))}
    if district.current() != district.ALL:
        overrides.update((row.day, (row.workday, row.name)) for row in session.scalars(select(DistrictCalendarDay)))
    confirmed = set(session.scalars(select(CalendarYear.year)))
    return WorkCalendar(overrides=overrides, confirmed_years=confirmed)


def calendar_of(session: Session) -> WorkCalendar:
    """The calendar for this transaction, shared between transactions until a day or year changes."""
    from engine.storage.refcache import cached

    return cached(session, "calendar", load_calendar)


def import_arrangement(session: Session, arrangement: Arrangement, source: str, by: str | None) -> int:
    """Replace the year's national days with the arrangement's, and mark the year confirmed.

    Days set by hand for the whole deployment (source ``admin``) are kept; districts' own days are not touched
    (they stay over the national ones). Returns the number of days stored.
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


def set_day(session: Session, day: date, workday: bool, name: str | None, by: str | None = None) -> None:
    """The current district's own day (its administrators' change, or its local 调休 notice)."""
    if district.current() == district.ALL:
        raise district.DistrictMissing("修改工作日历须指明区县（全国安排请导入国务院通知）")
    row = session.get(DistrictCalendarDay, {"district_id": district.current(), "day": day})
    if row is None:
        session.add(DistrictCalendarDay(day=day, year=day.year, workday=workday, name=name, set_by=by))
    else:
        row.workday, row.name, row.set_by, row.set_at = workday, name, by, utcnow()
    session.flush()


def clear_day(session: Session, day: date) -> bool:
    """Drop the current district's own day (the national one applies again); whether there was one."""
    row = session.get(DistrictCalendarDay, {"district_id": district.current(), "day": day})
    if row is not None:
        session.delete(row)
        session.flush()
    return row is not None


def set_national_day(session: Session, day: date, workday: bool, name: str | None) -> None:
    """A correction of the national calendar for every district (the operator's, from the command line)."""
    row = session.get(CalendarDay, day)
    if row is None:
        session.add(CalendarDay(day=day, year=day.year, workday=workday, name=name, source="admin"))
    else:
        row.workday, row.name, row.source = workday, name, "admin"
    session.flush()


@dataclass(frozen=True)
class StoredDay:
    day: date
    workday: bool
    name: str | None
    source: str
    own: bool  # the district's own day (over the national one), else the national calendar's


def list_days(session: Session, limit: int = 200) -> list[StoredDay]:
    """The stored days, newest first: the district's own, and the national ones it does not change."""
    own = {row.day: StoredDay(row.day, row.workday, row.name, "本区县调整", True)
           for row in session.scalars(select(DistrictCalendarDay).order_by(DistrictCalendarDay.day.desc())
                                      .limit(limit))} if district.current() != district.ALL else {}
    national = [StoredDay(row.day, row.workday, row.name, row.source, False)
                for row in session.scalars(select(CalendarDay).order_by(CalendarDay.day.desc()).limit(limit))
                if row.day not in own]
    return sorted([*own.values(), *national], key=lambda d: d.day, reverse=True)[:limit]
