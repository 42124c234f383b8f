"""Status page (aggregate figures only) and the JSON list of open tasks (HTTP Basic auth)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import text

from engine import org
from engine.errors import UserNotFound

bp = Blueprint("status", __name__)


def _engine():
    return current_app.extensions["zjtx"]


def _authenticated_username() -> str | None:
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    with _engine().db.read() as session:
        try:
            user = org.get_user(session, auth.username)
        except UserNotFound:
            return None
        return user.username if org.verify_password(user, auth.password or "") else None


def _unauthorized():
    response = jsonify({"code": "unauthorized", "message": "请提供用户名和密码（HTTP Basic 认证）"})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Basic realm="zjtx", charset="UTF-8"'
    return response


@bp.get("/")
def index():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from engine.calendar_store import load_calendar

    engine = _engine()
    today = datetime.now(ZoneInfo(engine.settings.timezone)).date()
    with engine.db.read() as session:
        unconfirmed = load_calendar(session).unconfirmed_years(today, ahead=1)
    return render_template("status.html", counts=engine.workflows.counts(), unconfirmed=unconfirmed)


@bp.get("/healthz")
def healthz():
    with _engine().db.read() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.get("/api/v1/tasks")
def open_tasks():
    username = _authenticated_username()
    if username is None:
        return _unauthorized()
    department = request.args.get("department") or None
    limit = min(max(request.args.get("limit", 100, type=int), 1), 500)
    offset = max(request.args.get("offset", 0, type=int), 0)
    rows = _engine().workflows.tasks(actor=username, department=department, status="open",
                                     limit=limit, offset=offset)
    return jsonify({"tasks": rows, "limit": limit, "offset": offset})
