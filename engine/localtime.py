"""The users' clock: what day it is and what a stored moment reads in their zone (ZJTX_TIMEZONE,
Asia/Shanghai by default).

Moments are stored in UTC; people read and enter Beijing dates and times. Between 00:00 and 08:00
Beijing time the UTC date is yesterday's, so a day is never taken from a UTC moment (``.date()``)
but from :func:`today` or :func:`local`. One module for the engine, the web and the messages.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"


def zone(name: str | ZoneInfo) -> ZoneInfo:
    return name if isinstance(name, ZoneInfo) else ZoneInfo(name)


def local(moment: datetime, tz: str | ZoneInfo) -> datetime:
    """A stored moment in the users' zone (a naive moment is taken as UTC, as storage keeps them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(tz))


def today(clock: Callable[[], datetime], tz: str | ZoneInfo) -> date:
    """Today in the users' zone by ``clock`` (the engine's clock, UTC)."""
    return local(clock(), tz).date()


def shown(moment: datetime | date | None, tz: str | ZoneInfo, fmt: str = DATETIME_FORMAT, empty: str = "") -> str:
    """A moment as people read it: ``2026-12-02 14:30`` in the users' zone; a date, or text already
    formatted, as it is."""
    if moment is None or moment == "":
        return empty
    if isinstance(moment, str):
        return moment
    if not isinstance(moment, datetime):
        return moment.strftime(DATE_FORMAT)
    return local(moment, tz).strftime(fmt)


def chinese_date(day: date | datetime, tz: str | ZoneInfo | None = None) -> str:
    """A date in the form of official documents: 2026年12月2日 (a moment: its day in the users' zone)."""
    if isinstance(day, datetime):
        day = local(day, tz or "Asia/Shanghai").date()
    return f"{day.year}年{day.month}月{day.day}日"
