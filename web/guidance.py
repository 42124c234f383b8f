"""拟培育库: the industry department's list of enterprises one criterion short of the cultivation standard
(read from the gap table the registry keeps current) and its guidance visits."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from web.params import MAX_PAGE, int_arg
from web.security import roles_required, services

bp = Blueprint("guidance", __name__, url_prefix="/enterprises/guidance")
VIEW_ROLES = ("liaison", "department_head", "dispatcher", "leading_group_office", "service_officer", "admin")
VISIT_FIELDS = ("visited_on", "visitors", "advice", "next_step")


def _page(errors: dict | None = None, failed_for: int | None = None, form: dict | None = None):
    page = int_arg("page", 1, 1, MAX_PAGE)
    try:
        rows, total = services().guidance.list(g.actor, limit=50, offset=(page - 1) * 50)
    except PermissionDenied:
        abort(403)
    return render_template("enterprises/guidance.html", rows=rows, total=total, page=page, errors=errors or {},
                           failed_for=failed_for, form=form or {},
                           today=services().calendars.today().isoformat()), (400 if errors else 200)


@bp.get("/")
@roles_required(*VIEW_ROLES)
def index():
    return _page()


@bp.post("/<int:enterprise_id>/visits")
@roles_required("liaison", "department_head", "admin")
def record_visit(enterprise_id: int):
    form = {k: request.form.get(k, "") for k in VISIT_FIELDS}
    try:
        services().guidance.record_visit(g.actor, enterprise_id, form)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        return _page(exc.errors, enterprise_id, form)
    flash("指导记录已登记", "info")
    return redirect(url_for("guidance.index"))
