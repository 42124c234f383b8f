"""Administration: users and roles, departments, working-day calendar, dead-letter notifications."""
from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine import accounts
from engine.calendar_store import import_arrangement, list_days, load_calendar, set_day
from engine.errors import ValidationFailed
from engine.org import ROLES, departments_as_data, save_department
from engine.workcalendar import ArrangementError, parse_arrangement
from notifications import inbox as messages
from web.security import engine, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles_required("admin")
def index():
    with engine().db.read() as session:
        users = accounts.list_users(session)
        departments = departments_as_data(session)
    return render_template("admin/index.html", users=users, departments=departments, roles=ROLES)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user(user_id: int | None = None):
    with engine().db.read() as session:
        departments = [d["name"] for d in departments_as_data(session)]
        existing = next((u for u in accounts.list_users(session) if u["id"] == user_id), None)
    if user_id is not None and existing is None:
        abort(404)
    errors = {}
    values = existing or {"roles": [], "active": True}
    if request.method == "POST":
        values = {"username": request.form.get("username", ""), "display_name": request.form.get("display_name", ""),
                  "email": request.form.get("email", ""), "department": request.form.get("department", ""),
                  "roles": request.form.getlist("roles"), "password": request.form.get("password", ""),
                  "active": request.form.get("active") == "on" if user_id else True}
        try:
            with engine().db.write() as session:
                accounts.save_user(session, g.actor, values, user_id)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("用户已保存", "info")
            return redirect(url_for("admin.index"))
    return render_template("admin/user.html", user_id=user_id, values=values, errors=errors,
                           departments=departments, roles=ROLES), (400 if errors else 200)


@bp.route("/departments/new", methods=["GET", "POST"])
@bp.route("/departments/<path:name>", methods=["GET", "POST"])
@roles_required("admin")
def department(name: str | None = None):
    with engine().db.read() as session:
        existing = next((d for d in departments_as_data(session) if d["name"] == name), None)
    if name is not None and existing is None:
        abort(404)
    values = existing or {"name": "", "aliases": [], "leading_group_member": False, "short_code": ""}
    errors = {}
    if request.method == "POST":
        values = {"name": request.form.get("name", ""), "short_code": request.form.get("short_code", ""),
                  "aliases": request.form.get("aliases", "").replace("，", ",").replace("、", ",").split(","),
                  "leading_group_member": request.form.get("leading_group_member") == "on"}
        try:
            with engine().db.write() as session:
                save_department(session, values["name"], values["aliases"], values["leading_group_member"],
                                values["short_code"], original=name)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("部门已保存", "info")
            return redirect(url_for("admin.index"))
    return render_template("admin/department.html", name=name, values=values, errors=errors), (400 if errors else 200)


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required("admin")
def calendar():
    errors = []
    if request.method == "POST":
        if request.form.get("action") == "set":
            try:
                day = date.fromisoformat(request.form.get("day", ""))
            except ValueError:
                errors.append("「日期」格式应为 YYYY-MM-DD")
            else:
                with engine().db.write() as session:
                    set_day(session, day, request.form.get("kind") == "workday", request.form.get("name") or None)
                flash(f"{day.isoformat()} 已修改", "info")
        else:
            upload = request.files.get("file")
            try:
                data = json.loads((upload.read() if upload else b"").decode("utf-8"))
                arrangement = parse_arrangement(data)
            except (ValueError, UnicodeDecodeError) as exc:
                errors = exc.errors if isinstance(exc, ArrangementError) else [f"文件不是有效的 JSON：{exc}"]
            else:
                with engine().db.write() as session:
                    import_arrangement(session, arrangement, data.get("source") or upload.filename, g.actor.username)
                flash(f"已导入 {arrangement.year} 年节假日安排", "info")
        if not errors:
            return redirect(url_for("admin.calendar"))
    today = engine().workflows.clock().date()
    with engine().db.read() as session:
        cal = load_calendar(session)
        overrides = list_days(session)
    return render_template("admin/calendar.html", overrides=overrides, errors=errors,
                           unconfirmed=cal.unconfirmed_years(today, ahead=1)), (400 if errors else 200)


@bp.route("/outbox", methods=["GET", "POST"])
@roles_required("admin")
def outbox():
    if request.method == "POST":
        message_id = request.form.get("id", type=int)
        if message_id and engine().deliverer.retry(message_id):
            flash(f"消息 {message_id} 已重新排队", "info")
        else:
            flash("该消息不是发送失败状态", "error")
        return redirect(url_for("admin.outbox", status=request.args.get("status", "dead")))
    status = request.args.get("status", "dead")
    return render_template("admin/outbox.html", rows=messages.outbox_messages(engine().db, status or None),
                           status=status)
