"""The pure helpers every diagram's code may call: the date and the working-day calendar.

A procedure adds its own through its registration (engine.runtime.extensions). Helpers run in the
engine, outside the script's limits, so their arguments are bounded.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from engine.runtime.extensions import HelperContext

MAX_DAYS = 3660
MAX_SPAN_DAYS = 36600  # two dates a form accepts (a far-off requested date) are counted, not refused


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

    def working_days_between(start: str, end: str) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
        first, last = iso_day(start), iso_day(end)
        if abs((last - first).days) > MAX_SPAN_DAYS:
            raise ValueError(f"两个日期相隔应在 {MAX_SPAN_DAYS} 天以内，收到 {first} 至 {last}")
        return calendar.working_days_between(first, last)

    def setting(name: str):
        """A process property of the diagram (a default a district changes in the designer): an int when
        it is a whole number, else its text. ValueError (in Chinese) when the diagram has none."""
        value = ctx.properties.get(str(name))
        if value is None:
            raise ValueError(f"流程属性「{name}」未设置，请在流程设计器中为流程设置该属性")
        text = value.strip()
        return int(text) if text.lstrip("-").isdigit() else text

    def end_of_day(day: str) -> str:
        """The deadline moment (ISO, with zone) at the end of an ISO date."""
        return calendar.end_of_day(iso_day(day), tz).astimezone(tz).isoformat()

    return {"today": today, "add_working_days": add_working_days, "add_natural_days": add_natural_days,
            "is_workday": is_workday, "end_of_working_days": end_of_working_days, "end_of_day": end_of_day,
            "working_days_between": working_days_between, "setting": setting}
