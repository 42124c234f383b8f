"""Dashboard: open, overdue and closed department steps, on-time closure and escalations."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request

from web.security import roles_required, services

bp = Blueprint("dashboard", __name__)
VIEWERS = ("dispatcher", "leading_group_office", "group_leader", "deputy_group_leader", "department_head", "admin")


@bp.get("/dashboard")
@roles_required(*VIEWERS)
def dashboard():
    return render_template("dashboard.html", d=services().dashboard.current(), goals=services().enterprises.goals(),
                           drill=services().evidence.readable(g.actor))


@bp.get("/dashboard/data.json")
@roles_required(*VIEWERS)
def dashboard_data():
    return jsonify(services().dashboard.current())


@bp.get("/dashboard/evidence")
@roles_required(*VIEWERS)
def dashboard_evidence():
    """The items behind a department's figure this month so far (live, as the circular will count them)."""
    found = services().evidence.of_dashboard(g.actor, request.args.get("department"), request.args.get("figure", ""))
    return render_template("circulars/evidence.html", e=found)
