"""全市情况: 市经济信息委's view across districts (engine/policy/city.py) — each district's figures for a month as its
own circular computes them, its goals and who its figures name, side by side."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import ValidationFailed
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


FORM_FIELDS = ("code", "name", "full_name", "admin_username", "admin_display_name", "units")


@bp.route("/city/districts", methods=["GET", "POST"])
@login_required
def districts():
    """区县管理: the city's administrators create a district (its units, first administrator, templates)."""
    admin = services().district_admin
    if not admin.may(g.actor):
        abort(403)
    errors: dict = {}
    values: dict = {"templates": None}
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in FORM_FIELDS}
        values.update(admin_password=request.form.get("admin_password", ""), templates=request.form.getlist("templates"))
        try:
            made = admin.create(g.actor, values)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(f"已新建{made['name']}（{made['code']}）：单位、管理员 {values['admin_username']} 和流程均已就绪，"
                  f"请将账号交给该区县的管理员", "info")
            return redirect(url_for("city.districts"))
    values.pop("admin_password", None)
    return render_template("city/districts.html", view=admin.overview(g.actor), values=values,
                           errors=errors), (400 if errors else 200)
