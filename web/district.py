"""本区设置 (the defaults the plan does not set, each marked as the district's) and 区科技局's 科技型企业 list."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import PermissionDenied, ValidationFailed
from engine.policy import district_settings
from engine.policy.pool.enterprises import ImportFailed
from engine.policy.pool.tech import TECH_DEPARTMENT
from web.params import MAX_PAGE, int_arg
from web.security import login_required, roles_required, services

bp = Blueprint("district", __name__)
PAGE = 100


@bp.get("/district/settings")
@roles_required("admin", "dispatcher", "leading_group_office")
def settings():
    return render_template("district/settings.html", settings=services().district.current(),
                           mark=district_settings.MARK, is_admin=g.actor.is_admin or "designer" in g.actor.roles)


def _tech_page(errors: dict | None = None, form: dict | None = None, status: int = 200):
    tech = services().enterprises.tech
    if not tech.can_view(g.actor):
        abort(403)
    page = int_arg("page", 1, 1, MAX_PAGE)
    today = services().calendars.today()
    rows, total, valid = tech.listing(today, limit=PAGE, offset=(page - 1) * PAGE)
    return render_template("district/tech.html", rows=rows, total=total, valid=valid, page=page, per_page=PAGE,
                           can_edit=tech.can_edit(g.actor), department=TECH_DEPARTMENT, errors=errors or {},
                           form=form or {}, today=today), status


@bp.get("/enterprises/tech")
@login_required
def tech():
    return _tech_page()


@bp.post("/enterprises/tech/flag")
@login_required
def tech_flag():
    form = {k: request.form.get(k, "") for k in ("uscc", "tech_since", "tech_valid_until")}
    clear = request.form.get("action") == "clear"
    try:
        name = services().enterprises.tech.set_flag(g.actor, form, clear=clear)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        return _tech_page(exc.errors, form, 400)
    flash(f"已{'取消' if clear else '登记'}「{name}」的科技型企业标记", "info")
    return redirect(url_for("district.tech"))


@bp.post("/enterprises/tech/import")
@login_required
def tech_import():
    upload = request.files.get("file")
    try:
        result = services().enterprises.tech.import_list(g.actor, upload.read() if upload else b"")
    except PermissionDenied:
        abort(403)
    except ImportFailed as exc:
        return render_template("enterprises/import_errors.html", problems=exc.problems, message=exc.message), 400
    except ValidationFailed as exc:
        return _tech_page({"file": next(iter(exc.errors.values()))}, None, 400)
    message = f"导入完成：更新 {result['updated']} 家，无变化 {result['unchanged']} 家"
    if result["unknown"]:
        shown = "、".join(f"第 {u['row']} 行 {u['uscc']}" for u in result["unknown"][:20])
        more = "等" if len(result["unknown"]) > 20 else ""
        message += f"；{len(result['unknown'])} 个代码不在企业库中，未导入（{shown}{more}）"
    flash(message, "info" if not result["unknown"] else "error")
    return redirect(url_for("district.tech"))
