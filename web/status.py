"""Service status (aggregate figures, for signed-in users) and the health check."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from web.security import login_required, services

bp = Blueprint("status", __name__)


@bp.get("/status")
@login_required
def index():
    return render_template("status.html", counts=services().queries.counts(),
                           unconfirmed=services().calendars.unconfirmed_years())


@bp.get("/metrics")
def metrics():
    """Prometheus metrics. Like /healthz, meant for the monitoring network, not for users."""
    return Response(services().health.metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")


@bp.get("/healthz")
def healthz():
    services().health.check()
    return jsonify({"status": "ok"})
