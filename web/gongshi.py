"""公示: the public notice of admissions to the cultivation pool, open to anyone on the network without signing
in, and the public objection form (CSRF-protected, rate-limited per client address by a limiter of this
blueprint's own, made per app: the login's limiter is web/security.py's). Nothing of an admission is shown
beyond the notice itself. The item page of an admission lists the objections for the central roles
(``notice_objections(instance)``)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from web.security import login_required, services

bp = Blueprint("gongshi", __name__, url_prefix="/gongshi")
OBJECTION_RATE = "5 per minute;30 per hour"
FIELDS = ("name", "contact", "reason")


@bp.get("/")
def index():
    return render_template("gongshi/index.html", notices=services().notices.current())


@bp.route("/<int:instance_id>/objection", methods=["GET", "POST"])
def objection(instance_id: int):
    try:
        notice = services().notices.one(instance_id)
    except NotFound:
        abort(404)
    form = {k: request.form.get(k, "") for k in FIELDS}
    if request.method == "POST":
        try:
            services().notices.object(instance_id, form, request.remote_addr)
        except NotFound:
            abort(404)  # the notice ended while the form was open
        except ValidationFailed as exc:
            return render_template("gongshi/objection.html", notice=notice, form=form, errors=exc.errors), 400
        return render_template("gongshi/objection.html", notice=notice, done=True, form={}, errors={})
    return render_template("gongshi/objection.html", notice=notice, form=form, errors={})


@bp.post("/objections/<int:instance_id>/<int:objection_id>/register")
@login_required
def register(instance_id: int, objection_id: int):
    """The dispatcher registers a public objection on the admission's 公示期异议登记 step, from its item page."""
    try:
        services().notices.register(g.actor, instance_id, objection_id)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"已登记公众异议第 {objection_id} 号，交领导小组办公室处理；公示暂停，处理后继续或不予入库", "info")
    return redirect(url_for("pages.instance", instance_id=instance_id) + "#notice-objections")


@bp.app_context_processor
def _objections():
    def notice_objections(instance):
        actor = g.get("actor")
        return services().notices.objections(actor, instance.id) if actor is not None else []
    return {"notice_objections": notice_objections}


@bp.record_once
def _rate_limit(state) -> None:
    """After the routes above are added: the objection form's posts, per client address."""
    limiter = Limiter(get_remote_address, app=state.app, storage_uri="memory://", headers_enabled=True)
    endpoint = f"{bp.name}.objection"
    state.app.view_functions[endpoint] = limiter.limit(OBJECTION_RATE, methods=["POST"])(
        state.app.view_functions[endpoint])
