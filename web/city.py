"""全市情况: 市经济信息委's view across districts (engine/policy/city.py) — each district's figures for a month as its
own circular computes them, its goals and who its figures name, side by side."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, g, render_template, request

from web.security import login_required, services

bp = Blueprint("city", __name__)
MONTHS_SHOWN = 12


def _month(text: str | None, today: date) -> tuple[date, date, str | None]:
    """The month asked for (YYYY-MM), else the last full month; an unreadable one is said and the default used."""
    last_month_end = today.replace(day=1) - timedelta(days=1)
    default = last_month_end.replace(day=1)
    error = None
    start = default
    if text:
        try:
            year, month = (int(part) for part in text.split("-"))
            start = date(year, month, 1)
        except ValueError:
            error = f"「月份」{text} 不是有效的月份（格式如 2026-10），已显示上月"
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end, error


@bp.get("/city/")
@login_required
def overview():
    city = services().city
    if not city.is_city(g.actor):
        abort(403)
    today = services().calendars.today()
    start, end, error = _month(request.args.get("month"), today)
    months = []
    first = today.replace(day=1)
    for _ in range(MONTHS_SHOWN):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(first.strftime("%Y-%m"))
    return render_template("city/overview.html", view=city.overview(g.actor, start, end), month=start.strftime("%Y-%m"),
                           months=months, error=error)
