"""Reporting periods: the month or quarter before a day (Beijing dates, both ends included)."""
from __future__ import annotations

from datetime import date, timedelta


def previous_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def previous_quarter(today: date) -> tuple[date, date]:
    first_month = 3 * ((today.month - 1) // 3) + 1
    end = date(today.year, first_month, 1) - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end
