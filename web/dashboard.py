"""Dashboard: open, overdue and closed department steps, on-time closure and escalations."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from web.security import roles_required, services

bp = Blueprint("dashboard", __name__)
VIEWERS = ("dispatcher", "leading_group_office", "group_leader", "deputy_group_leader", "department_head", "admin")


@bp.get("/dashboard")
@roles_required(*VIEWERS)
def dashboard():
    return render_template("dashboard.html", d=services().dashboard.current(), goals=services().enterprises.goals())


@bp.get("/dashboard/data.json")
@roles_required(*VIEWERS)
def dashboard_data():
    return jsonify(services().dashboard.current())
