"""企业端 · 培育入库: the enterprise checks itself against the cultivation criteria (the admission's own decision
on its registry figures), submits last year's figures for its service officer to confirm, applies to the pool and
follows its admissions. Everything is looked up through ``g.enterprise.enterprise_id``: its own records only."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from engine.errors import Conflict, NotFound, ValidationFailed
from engine.policy.pool.portal import FIELDS, PortalUser
from web.qiye import NAV, bp, enterprise_required
from web.security import services

NAV.append(("qiye.pool", "培育入库"))


def portal_user() -> PortalUser:
    return PortalUser(enterprise_id=g.enterprise.enterprise_id, contact_id=g.enterprise.contact_id,
                      contact_name=g.enterprise.contact_name)


def _page(errors: dict | None = None, form: dict | None = None, status: int = 200):
    portal = services().pool_portal
    check = portal.self_check(g.enterprise.enterprise_id)
    return render_template("qiye/pool.html", check=check, admissions=portal.admissions(g.enterprise.enterprise_id),
                           fields=FIELDS, errors=errors or {}, form=form or {}), status


@bp.get("/pool")
@enterprise_required
def pool():
    return _page()


@bp.post("/pool/figures")
@enterprise_required
def submit_figures():
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        services().pool_portal.submit_year(portal_user(), form)
    except ValidationFailed as exc:
        return _page(exc.errors, form, 400)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("qiye.pool"))
    flash("年度数据已报送，服务专员确认后写入企业库，届时将通知您", "info")
    return redirect(url_for("qiye.pool"))


@bp.post("/pool/apply")
@enterprise_required
def apply():
    try:
        files = [(f.filename or "", f.read()) for f in request.files.getlist("file")]
        started = services().pool_portal.apply(portal_user(), request.form.get("apply_note"), files)
    except ValidationFailed as exc:
        return _page(exc.errors, {"apply_note": request.form.get("apply_note", "")}, 400)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("qiye.pool"))
    flash(f"入库申请已提交（编号 {started['business_key']}），可在本页查看办理进度", "info")
    return redirect(url_for("qiye.admission", instance_id=started["id"]))


@bp.get("/pool/admissions/<int:instance_id>")
@enterprise_required
def admission(instance_id: int):
    try:
        found = services().pool_portal.admission(g.enterprise.enterprise_id, instance_id)
    except NotFound:
        abort(404)
    return render_template("qiye/admission.html", a=found)
