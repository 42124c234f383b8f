"""Service status (aggregate figures, for signed-in users) and the health check."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, render_template

from engine.deadlines.calendar_store import load_calendar
from web.security import login_required, services

bp = Blueprint("status", __name__)


@bp.get("/status")
@login_required
def index():
    e = services()
    today = datetime.now(ZoneInfo(e.settings.timezone)).date()
    with e.db.read() as session:
        unconfirmed = load_calendar(session).unconfirmed_years(today, ahead=1)
    return render_template("status.html", counts=e.queries.counts(), unconfirmed=unconfirmed)


@bp.get("/metrics")
def metrics():
    """Prometheus metrics. Like /healthz, meant for the monitoring network, not for users."""
    from flask import Response

    from engine.monitoring.metrics import render

    e = services()
    return Response(render(e.db, e.workflows.clock()), content_type="text/plain; version=0.0.4; charset=utf-8")


@bp.get("/healthz")
def healthz():
    services().db.ping()
    return jsonify({"status": "ok"})
