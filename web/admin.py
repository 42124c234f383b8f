"""Administration: users and roles, departments, working-day calendar, dead-letter notifications, incidents."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.deadlines.workcalendar import ArrangementError
from engine.errors import EngineError, NotFound, ValidationFailed
from engine.identity.org import ROLES
from web.params import MAX_PAGE, form_id, int_arg
from web.security import roles_required, services

bp = Blueprint("admin", __name__, url_prefix="/admin")
INCIDENTS_PER_PAGE = 20


@bp.get("/")
@roles_required("admin")
def index():
    found = services().identity.search_users(g.actor, request.args.get("q", ""), request.args.get("department", ""),
                                             int_arg("page", 1, 1, MAX_PAGE))
    return render_template("admin/index.html", found=found, users=found["users"],
                           departments=services().identity.departments(), roles=ROLES,
                           open_incidents=services().incidents.count_open())


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user(user_id: int | None = None):
    departments = services().identity.department_names()
    existing = services().identity.user(g.actor, user_id) if user_id is not None else None
    if user_id is not None and existing is None:
        abort(404)
    errors = {}
    values = existing or {"roles": [], "active": True}
    if request.method == "POST":
        values = {"username": request.form.get("username", ""), "display_name": request.form.get("display_name", ""),
                  "email": request.form.get("email", ""), "mobile": request.form.get("mobile", ""),
                  "wecom_userid": request.form.get("wecom_userid", ""),
                  "department": request.form.get("department", ""),
                  "roles": request.form.getlist("roles"), "password": request.form.get("password", ""),
                  "active": request.form.get("active") == "on" if user_id else True}
        try:
            services().identity.save_user(g.actor, values, user_id)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("用户已保存", "info")
            return redirect(url_for("admin.index"))
    login_state = services().identity.login_state(g.actor, user_id) if user_id is not None else None
    tokens = services().identity.tokens(g.actor, user_id) if user_id is not None else []
    return render_template("admin/user.html", user_id=user_id, values=values, errors=errors, login_state=login_state,
                           tokens=tokens,
                           departments=departments, roles=ROLES), (400 if errors else 200)


@bp.post("/users/<int:user_id>/sign-out")
@roles_required("admin")
def sign_out_user(user_id: int):
    """强制下线: every session of the user ends at its next request."""
    services().identity.sign_out_everywhere(g.actor, user_id)
    flash("该用户在所有设备上的登录已退出", "info")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
@roles_required("admin")
def revoke_token(user_id: int, token_id: int):
    """吊销令牌: scripts using the token are refused from their next call."""
    try:
        services().identity.revoke_token(g.actor, user_id, token_id)
    except NotFound:
        abort(404)
    flash(f"API 令牌 #{token_id} 已吊销，使用它的程序将无法再调用接口", "info")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/lift-limits")
@roles_required("admin")
def lift_login_limits(user_id: int):
    """解除登录限制: earlier failed logins no longer slow the user down."""
    services().identity.lift_login_limits(g.actor, user_id)
    flash("已解除该用户的登录限制，现在可以立即登录", "info")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/departments/new", methods=["GET", "POST"])
@bp.route("/departments/<path:name>", methods=["GET", "POST"])
@roles_required("admin")
def department(name: str | None = None):
    existing = services().identity.department(g.actor, name) if name is not None else None
    if name is not None and existing is None:
        abort(404)
    values = existing or {"name": "", "aliases": [], "leading_group_member": False, "short_code": ""}
    errors = {}
    if request.method == "POST":
        values = {"name": request.form.get("name", ""), "short_code": request.form.get("short_code", ""),
                  "aliases": request.form.get("aliases", "").replace("，", ",").replace("、", ",").split(","),
                  "leading_group_member": request.form.get("leading_group_member") == "on"}
        try:
            services().identity.save_department(g.actor, values, original=name)
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
        action = request.form.get("action")
        if action in ("set", "clear"):
            try:
                day = date.fromisoformat(request.form.get("day", ""))
            except ValueError:
                errors.append("「日期」格式应为 YYYY-MM-DD")
            else:
                if action == "clear":
                    if services().calendars.clear_day(g.actor, day):
                        flash(f"{day.isoformat()} 已恢复为全国安排", "info")
                else:
                    services().calendars.set_day(g.actor, day, request.form.get("kind") == "workday",
                                                 request.form.get("name") or None)
                    flash(f"{day.isoformat()} 已修改（仅本区县）", "info")
        elif not services().calendars.may_import(g.actor):
            errors.append("国务院节假日安排全市共用，由重庆市本级管理员导入；本区县的调休请用“调整某一天”")
        else:
            upload = request.files.get("file")
            try:
                arrangement = services().calendars.import_notice(g.actor, upload.read() if upload else b"",
                                                                 upload.filename if upload else None)
            except ArrangementError as exc:
                errors = exc.errors
            else:
                flash(f"已导入 {arrangement.year} 年节假日安排", "info")
        if not errors:
            return redirect(url_for("admin.calendar"))
    return render_template("admin/calendar.html", overrides=services().calendars.days(g.actor), errors=errors,
                           unconfirmed=services().calendars.unconfirmed_years(),
                           may_import=services().calendars.may_import(g.actor)), (400 if errors else 200)


@bp.route("/outbox", methods=["GET", "POST"])
@roles_required("admin")
def outbox():
    if request.method == "POST":
        message_id = form_id("id")
        try:
            result = services().outbox.retry(g.actor, message_id) if message_id else {"requeued": False}
        except EngineError as exc:
            flash(exc.message, "error")
        else:
            if result.get("incident") is not None:  # resending it also closed its incident
                flash(f"消息 {message_id} 已重新排队，异常事件 #{result['incident']} 已处理", "info")
            elif result["requeued"]:
                flash(f"消息 {message_id} 已重新排队", "info")
            else:
                flash("该消息不是发送失败状态", "error")
        return redirect(url_for("admin.outbox", status=request.args.get("status", "dead")))
    status = request.args.get("status", "dead")
    return render_template("admin/outbox.html", rows=services().outbox.list(g.actor, status or None), status=status)


@bp.get("/incidents")
@roles_required("admin")
def incidents():
    """What the engine kept failing to do on its own: open ones first, newest first, by pages."""
    show = "all" if request.args.get("show") == "all" else "open"
    page = int_arg("page", 1, 1, MAX_PAGE)
    rows = services().incidents.list(open_only=show == "open", limit=INCIDENTS_PER_PAGE + 1,
                                   offset=(page - 1) * INCIDENTS_PER_PAGE)
    return render_template("admin/incidents.html", rows=rows[:INCIDENTS_PER_PAGE], show=show, page=page,
                           has_next=len(rows) > INCIDENTS_PER_PAGE, open_count=services().incidents.count_open())


@bp.get("/incidents/<int:incident_id>")
@roles_required("admin")
def incident(incident_id: int):
    try:
        found = services().incidents.get(incident_id)
    except NotFound:
        abort(404)
    return render_template("admin/incident.html", i=found)


_RETRIED = {"timer": "已放回定时队列，系统将在下一次调度时（通常几秒内）重新执行；如再次失败，会重新记为异常事件",
            "step": "已放回定时队列，系统将在下一次调度时（通常几秒内）继续执行；如再次失败，会重新记为异常事件",
            "delivery": "通知已重新排队发送，可在「发送失败的通知」中查看结果"}


@bp.post("/incidents/<int:incident_id>/retry")
@roles_required("admin")
def retry_incident(incident_id: int):
    try:
        result = services().incidents.retry(incident_id, g.actor)
    except NotFound:
        abort(404)
    except EngineError as exc:  # resolved already, or the start failed again
        flash(exc.message, "error")
    else:
        if result.get("started"):
            flash(f"已用保存的数据重新发起：{result['started']['business_key']}（{result['started']['title']}）", "info")
        elif result.get("note"):
            flash(f"{result['note']}，异常事件已标记为已解决", "info")
        else:
            flash(f"异常事件 #{incident_id} 已重试：{_RETRIED.get(result['kind'], '已重新执行')}", "info")
    return redirect(url_for("admin.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/cancel")
@roles_required("admin")
def cancel_incident(incident_id: int):
    if request.form.get("confirm") != "yes":
        flash("请先勾选确认，再点「取消」", "error")
        return redirect(url_for("admin.incident", incident_id=incident_id))
    try:
        result = services().incidents.cancel(incident_id, g.actor)
    except NotFound:
        abort(404)
    except EngineError as exc:
        flash(exc.message, "error")
    else:
        what = f"，事项 {result['business_key']} 及其未办结的待办已取消" if result["kind"] in ("timer", "step") else ""
        flash(f"异常事件 #{incident_id} 已取消{what}", "info")
    return redirect(url_for("admin.incident", incident_id=incident_id))
