"""Circulars: the archive, the printable page and the Word document."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.deadlines.periods import previous_month
from engine.errors import NotFound, ValidationFailed
from engine.policy.circulars.service import PeriodDrafted, period_of, table_columns
from engine.policy.dispatch.figures import labels
from web.downloads import DOCX, send_download
from web.security import login_required, roles_required, services

bp = Blueprint("circulars", __name__, url_prefix="/circulars")
DRAFT_READERS = {"dispatcher", "leading_group_office", "admin"}


def _drafts() -> bool:
    return g.actor.is_admin or bool(g.actor.roles & DRAFT_READERS)


def _index(form: dict | None = None, errors: dict | None = None, existing: int | None = None, status: int = 200):
    start, end = previous_month(services().calendars.today())  # the month before, in Beijing
    form = form or {"month": f"{start:%Y-%m}", "period_start": "", "period_end": ""}
    return render_template("circulars/index.html", rows=services().circulars.list(_drafts()), can_draft=_drafts(),
                           form=form, errors=errors or {}, existing=existing, latest_month=f"{end:%Y-%m}"), status


@bp.get("/")
@login_required
def index():
    return _index()


@bp.post("/draft")
@roles_required(*DRAFT_READERS)
def draft():
    """起草通报: start the evaluation_circular process for a period (it drafts, the dispatcher edits,
    the office approves), as the monthly schedule does."""
    form = {k: request.form.get(k, "").strip() for k in ("month", "period_start", "period_end")}
    try:
        start, end = period_of(form["month"], form["period_start"], form["period_end"])
        services().circulars.check_new_period(start, end)
        started = services().workflows.start("evaluation_circular", {
            "period": None, "period_start": start.isoformat(), "period_end": end.isoformat()}, actor=g.actor)
    except PeriodDrafted as exc:
        return _index(form, exc.errors, existing=exc.circular_id, status=409)
    except ValidationFailed as exc:
        return _index(form, exc.errors, status=400)
    circular = services().circulars.of_instance(started["id"])
    flash(f"已生成通报初稿（{started['business_key']}），由区经济信息委在「我的待办」的「起草通报」中修改定稿，"
          "再报领导小组办公室审批", "info")
    if circular is None:
        return redirect(url_for("pages.instance", instance_id=started["id"]))
    return redirect(url_for("circulars.view", circular_id=circular.id))


def _get(circular_id: int):
    try:
        return services().circulars.get(circular_id, _drafts())
    except NotFound:
        abort(404)


@bp.get("/<int:circular_id>")
@login_required
def view(circular_id: int):
    circular = _get(circular_id)
    corrected = {(x["department"], x["figure"]) for x in circular.figures.get("corrections") or []}  # 经核对更正
    return render_template("circulars/view.html", c=circular, columns=table_columns(circular.figures), labels=labels(),
                           publisher=services().circulars.publisher(circular),
                           objections=services().circulars.objections(circular.id), corrected=corrected,
                           drill=services().evidence.readable(g.actor))  # the units whose figures link to their lists


@bp.get("/<int:circular_id>.docx")
@login_required
def docx(circular_id: int):
    circular = _get(circular_id)
    return send_download(services().circulars.docx(circular), f"{circular.number or '通报草稿'}.docx", DOCX)


@bp.get("/<int:circular_id>/evidence")
@login_required
def evidence(circular_id: int):
    """通报依据: the items (or enterprises) a figure of the circular counts; a published one's as frozen."""
    found = services().evidence.of_circular(g.actor, circular_id, _drafts(), request.args.get("department"),
                                            request.args.get("figure", ""))
    return render_template("circulars/evidence.html", e=found)
