"""台账 downloads: problem, measure and pool ledgers as Excel, filtered by period and department."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from flask import Blueprint, Response, abort, g, render_template, request

from engine.errors import NotFound
from engine.policy.ledger_service import READER_ROLES, TITLES
from web.security import roles_required, services

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")
ROLES = tuple(sorted(READER_ROLES))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date(key: str) -> date | None:
    try:
        return date.fromisoformat(request.args[key]) if request.args.get(key) else None
    except ValueError:
        abort(400, description=f"「{key}」应为日期 YYYY-MM-DD")


@bp.get("/")
@roles_required(*ROLES)
def index():
    return render_template("ledgers.html", departments=services().identity.department_names(),
                           all_departments=g.actor.sees_all)


@bp.get("/<kind>.xlsx")
@roles_required(*ROLES)
def download(kind: str):
    if kind not in TITLES:
        abort(404)
    start, end = _date("from"), _date("to")
    try:  # a department's users get their own department's rows, whatever they ask for
        title, content = services().ledgers.workbook(g.actor, kind, start, end, request.args.get("department") or None)
    except NotFound:  # an unknown department
        abort(404)
    return Response(content, content_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(title)}.xlsx"})
