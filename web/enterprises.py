"""Enterprise registry pages: list, filter, view with eligibility and history, edit, Excel import/export,
and applying for the cultivation pool."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import EngineError, NotFound, ValidationFailed
from engine.policy.pool import scope
from engine.policy.pool.eligibility import FIGURES, DecisionFailed, Inputs, decide, industries
from engine.policy.pool.enterprises import EDIT_ROLES, ENTERPRISE_COLUMNS, TIERS, ImportFailed
from engine.policy.portal import EnterpriseAccounts
from web.downloads import XLSX, send_download
from web.params import MAX_PAGE, int_arg
from web.security import login_required, roles_required, services

bp = Blueprint("enterprises", __name__, url_prefix="/enterprises")
VIEW_ROLES = ("dispatcher", "service_officer", "leading_group_office", "admin", "liaison", "department_head")
FIGURE_LABELS = {"revenue": "营业收入", "rd_expense": "研发投入", "net_profit": "净利润", "total_assets": "资产总额",
                 "total_liabilities": "负债总额"}


@bp.get("/")
@roles_required(*VIEW_ROLES)
def index():
    page = int_arg("page", 1, 1, MAX_PAGE)
    pool = {"yes": True, "no": False}.get(request.args.get("pool", ""))
    rows, total = services().enterprises.list(g.actor, q=request.args.get("q") or None,
                                            industry=request.args.get("industry") or None,
                                            tier=request.args.get("tier") or None, in_pool=pool,
                                            limit=50, offset=(page - 1) * 50)
    return render_template("enterprises/index.html", rows=rows, total=total, page=page, tiers=TIERS,
                           industries=[i["name"] for i in industries()], args=request.args,
                           can_edit=g.actor.is_admin or bool(g.actor.roles & EDIT_ROLES),
                           goals=services().enterprises.goals(),
                           can_view_tech=services().enterprises.tech.can_view(g.actor), portal=_portal_pending())


def _portal_pending() -> dict | None:
    """What enterprises sent through the portal and waits for this officer (or dispatcher): self-registrations
    to confirm and yearly figures to confirm; None for those who decide neither."""
    if not (g.actor.is_admin or g.actor.roles & {"service_officer", "dispatcher"}):
        return None
    return {"registrations": EnterpriseAccounts.of(services()).pending_count(g.actor),
            "year_updates": services().pool_portal.pending_update_count(g.actor)}


def _assessment(record: dict) -> dict:
    decisions = services().decisions.current()
    today = services().calendars.today()
    inputs = Inputs(as_of=today, registered_on=record["registered_on"], in_district=record["in_district"],
                    independent_legal_person=record["independent_legal_person"], industry=record["industry"],
                    employees=record["employees"], years=record["years"], sector=record["sector"],
                    financial_type=record["financial_type"])
    try:
        return decide(inputs, decisions)
    except DecisionFailed as exc:  # a broken table deployed by a designer: say so, keep the page
        return {"eligible": None, "last_year": today.year - 1, "criteria": [],
                "summary": f"{exc.message}。请联系流程设计人员检查决策表。"}


@bp.get("/<int:enterprise_id>")
@roles_required(*VIEW_ROLES)
def view(enterprise_id: int):
    try:
        record = services().enterprises.get(enterprise_id, g.actor)
    except NotFound:
        abort(404)
    return render_template("enterprises/view.html", e=record, assessment=_assessment(record), tiers=TIERS,
                           figures=FIGURES, labels=FIGURE_LABELS, columns=dict(ENTERPRISE_COLUMNS),
                           can_edit=g.actor.is_admin or bool(g.actor.roles & EDIT_ROLES),
                           portal=EnterpriseAccounts.of(services()).summary(g.actor, enterprise_id))  # 企业账号


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:enterprise_id>/edit", methods=["GET", "POST"])
@roles_required(*EDIT_ROLES)
def edit(enterprise_id: int | None = None):
    record = {}
    if enterprise_id is not None:
        try:
            record = services().enterprises.get(enterprise_id, g.actor)
        except NotFound:
            abort(404)
    errors = {}
    if request.method == "POST":
        raw = {field: request.form.get(field, "") for field, _ in ENTERPRISE_COLUMNS}
        years = []
        for i in range(4):
            row = {"year": request.form.get(f"y{i}-year", "")}
            row.update({k: request.form.get(f"y{i}-{k}", "") for k in FIGURES})
            if row["year"]:
                years.append(row)
        try:
            saved = services().enterprises.save(g.actor, raw, years, enterprise_id)
        except ValidationFailed as exc:
            errors = exc.errors
            record = {**record, **raw}
        else:
            flash("企业信息已保存", "info")
            return redirect(url_for("enterprises.view", enterprise_id=saved))
    year_rows = sorted((record.get("years") or {}).items())[-4:]
    return render_template("enterprises/edit.html", e=record, errors=errors, tiers=TIERS, figures=FIGURES,
                           labels=FIGURE_LABELS, industries=[i["name"] for i in industries()], sectors=scope.SECTORS,
                           key_fields=scope.KEY_FIELDS, financial_types=scope.FINANCIAL_TYPES,
                           year_rows=year_rows, enterprise_id=enterprise_id), (400 if errors else 200)


@bp.get("/export.xlsx")
@roles_required(*EDIT_ROLES, "leading_group_office")
def export():
    return send_download(services().enterprises.export_workbook(), "enterprises.xlsx", XLSX)


@bp.post("/import")
@roles_required(*EDIT_ROLES)
def import_():
    upload = request.files.get("file")
    try:
        result = services().enterprises.import_workbook(g.actor, upload.read() if upload else b"")
    except ImportFailed as exc:
        return render_template("enterprises/import_errors.html", problems=exc.problems, message=exc.message), 400
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("enterprises.index"))
    flash(f"导入完成：新增 {result['created']} 家，更新 {result['updated']} 家，年度数据 {result['years']} 条", "info")
    return redirect(url_for("enterprises.index"))


@bp.post("/<int:enterprise_id>/apply")
@login_required
def apply(enterprise_id: int):
    try:
        record = services().enterprises.get(enterprise_id, g.actor)
        channel = "application" if g.actor.roles & {"service_officer", "dispatcher"} else "nomination"
        started = services().workflows.start("pool_admission", {"enterprise_uscc": record["uscc"], "channel": channel},
                                           actor=g.actor.username)
    except NotFound:
        abort(404)
    except EngineError as exc:
        flash(exc.message, "error")
        return redirect(url_for("enterprises.view", enterprise_id=enterprise_id))
    flash(f"已提交入库申请 {started['business_key']}：{started['item_status']}", "info")
    return redirect(url_for("pages.instance", instance_id=started["id"]))
