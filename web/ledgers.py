"""台账 downloads: problem, measure and pool ledgers as Excel, filtered by period and department; the
yearly 实绩考核 workbook (dispatcher, leading_group_office, admin)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, g, render_template, request

from engine.errors import NotFound, ValidationFailed
from engine.policy.ledger_service import ASSESSMENT_ROLES, READER_ROLES, TITLES
from web.downloads import XLSX, send_download
from web.security import roles_required, services

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")
ROLES = tuple(sorted(READER_ROLES))


def _date(key: str) -> date | None:
    try:
        return date.fromisoformat(request.args[key]) if request.args.get(key) else None
    except ValueError:
        abort(400, description=f"「{key}」应为日期 YYYY-MM-DD")


@bp.get("/")
@roles_required(*ROLES)
def index():
    ledgers = services().ledgers
    return render_template("ledgers.html", departments=services().identity.department_names(),
                           all_departments=g.actor.sees_all, may_assess=ledgers.may_assess(g.actor),
                           years=ledgers.assessment_years())


def _xlsx(title: str, content: bytes) -> Response:
    return send_download(content, f"{title}.xlsx", XLSX)


@bp.get("/assessment.xlsx")
@roles_required(*sorted(ASSESSMENT_ROLES))
def assessment():
    try:
        return _xlsx(*services().ledgers.assessment(g.actor, request.args.get("year")))
    except ValidationFailed as exc:
        abort(400, description="；".join(exc.errors.values()))


@bp.get("/<kind>.xlsx")
@roles_required(*ROLES)
def download(kind: str):
    if kind not in TITLES:
        abort(404)
    start, end = _date("from"), _date("to")
    try:  # a department's users get their own department's rows, whatever they ask for
        title, content = services().ledgers.workbook(g.actor, kind, start, end, request.args.get("department") or None)
    except NotFound:  # an unknown department
        abort(404)
    return _xlsx(title, content)
