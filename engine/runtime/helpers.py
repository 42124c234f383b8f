"""The pure helpers every diagram's code may call: the date and the working-day calendar.

A procedure adds its own through its registration (engine.runtime.extensions). Helpers run in the
engine, outside the script's limits, so their arguments are bounded.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from engine.runtime.extensions import HelperContext

MAX_DAYS = 3660


def bounded_days(n) -> int:
    """A count of days from diagram code, 1 to MAX_DAYS (ValueError, in Chinese, otherwise)."""
    if isinstance(n, bool) or not isinstance(n, (int, float, str)):
        raise ValueError(f"天数应为整数，收到 {n!r}")
    value = int(n)
    if not 0 < value <= MAX_DAYS:
        raise ValueError(f"天数应在 1 到 {MAX_DAYS} 之间，收到 {value}")
    return value


def iso_day(value) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"日期应为 YYYY-MM-DD，收到 {str(value)[:40]!r}") from None


def calendar_helpers(ctx: HelperContext) -> dict[str, Callable]:
    calendar, tz, now = ctx.calendar, ctx.tz, ctx.now

    def today() -> str:
        return now().astimezone(tz).date().isoformat()

    def add_working_days(start: str, n: int) -> str:
        return calendar.add_working_days(iso_day(start), bounded_days(n)).isoformat()

    def add_natural_days(start: str, n: int) -> str:
        return calendar.add_natural_days(iso_day(start), bounded_days(n)).isoformat()

    def is_workday(day: str) -> bool:
        return calendar.is_workday(iso_day(day))

    def end_of_working_days(n: int) -> str:
        """The deadline moment (ISO, with zone) of n working days counted from tomorrow."""
        day = calendar.add_working_days(now().astimezone(tz).date(), bounded_days(n))
        return calendar.end_of_day(day, tz).astimezone(tz).isoformat()

    def end_of_day(day: str) -> str:
        """The deadline moment (ISO, with zone) at the end of an ISO date."""
        return calendar.end_of_day(iso_day(day), tz).astimezone(tz).isoformat()

    return {"today": today, "add_working_days": add_working_days, "add_natural_days": add_natural_days,
            "is_workday": is_workday, "end_of_working_days": end_of_working_days, "end_of_day": end_of_day}
