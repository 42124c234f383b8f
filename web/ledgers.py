"""台账 downloads: problem, measure and pool ledgers as Excel, filtered by period and department."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from flask import Blueprint, Response, abort, g, render_template, request

from engine.errors import DepartmentNotFound
from engine.identity.org import DepartmentDirectory, departments_as_data
from engine.policy import ledgers
from web.security import roles_required, services

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")
ROLES = ("dispatcher", "leading_group_office", "admin", "department_head", "liaison", "service_officer")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date(key: str) -> date | None:
    try:
        return date.fromisoformat(request.args[key]) if request.args.get(key) else None
    except ValueError:
        abort(400, description=f"「{key}」应为日期 YYYY-MM-DD")


@bp.get("/")
@roles_required(*ROLES)
def index():
    with services().db.read() as session:
        departments = [d["name"] for d in departments_as_data(session)]
    return render_template("ledgers.html", departments=departments, all_departments=g.actor.sees_all)


@bp.get("/<kind>.xlsx")
@roles_required(*ROLES)
def download(kind: str):
    if kind not in ("problems", "measures", "pool"):
        abort(404)
    start, end = _date("from"), _date("to")
    with services().db.read() as session:
        directory = DepartmentDirectory.of(session)
        if g.actor.sees_all:
            name = request.args.get("department") or None
            try:
                dep = directory.get(name) if name else None
            except DepartmentNotFound:
                abort(404)
        else:  # a department's users get their own department's rows, whatever they ask for
            dep = directory.by_id(g.actor.department_id)
        if kind == "problems":
            content = ledgers.problem_ledger(session, services().workflows.tz, start, end, dep.id if dep else None)
            title = "问题台账"
        elif kind == "measures":
            content = ledgers.measure_ledger(session, dep.name if dep else None)
            title = "措施台账"
        else:
            visible = services().enterprises.visible_industries(session, g.actor)
            content = ledgers.pool_ledger(session, visible)
            title = "培育库台账"
    return Response(content, content_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(title)}.xlsx"})
