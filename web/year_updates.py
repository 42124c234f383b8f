"""企业报送的年度数据: the service officer's list of the figures its enterprises submitted in the portal (the
dispatcher sees every enterprise's), to confirm into the registry or refuse with a reason."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import Conflict, NotFound, ValidationFailed
from engine.policy.pool.portal import FIELDS
from web.security import roles_required, services

bp = Blueprint("year_updates", __name__, url_prefix="/enterprises/year-updates")
ROLES = ("service_officer", "dispatcher", "admin")


@bp.get("/")
@roles_required(*ROLES)
def index(errors: dict | None = None, failed_for: int | None = None):
    rows = services().pool_portal.pending_updates(g.actor)
    return render_template("enterprises/year_updates.html", rows=rows, fields=FIELDS, errors=errors or {},
                           failed_for=failed_for), (400 if errors else 200)


@bp.post("/<int:update_id>/<any(confirm, refuse):decision>")
@roles_required(*ROLES)
def decide(update_id: int, decision: str):
    try:
        services().pool_portal.decide_update(g.actor, update_id, decision == "confirm", request.form.get("reason"))
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return index(exc.errors, update_id)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("year_updates.index"))
    flash("已确认，年度数据已写入企业库" if decision == "confirm" else "已退回，企业将收到退回理由", "info")
    return redirect(url_for("year_updates.index"))
