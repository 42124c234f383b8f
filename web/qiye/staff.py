"""The staff side of 企业端 accounts: the service officer invites a contact from the enterprise page, and
confirms or refuses the enterprises' own registrations (/enterprises/registrations). Who may is checked by the
engine (the enterprise's service officer, the dispatcher, an admin)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import NotFound, ValidationFailed
from engine.policy.portal import EnterpriseAccounts, PortalRefused
from web.security import login_required, roles_required, services

bp = Blueprint("enterprise_accounts", __name__)
MANAGERS = ("service_officer", "dispatcher", "admin")
FIELD_LABELS = {"contact_name": "联系人姓名", "mobile": "手机号", "email": "邮箱", "reason": "理由"}


def _accounts() -> EnterpriseAccounts:
    return EnterpriseAccounts.of(services())


def _errors(exc: ValidationFailed) -> str:
    return "；".join(f"{FIELD_LABELS.get(k, k)}：{v}" for k, v in exc.errors.items())


@bp.post("/enterprises/<int:enterprise_id>/invite")
@login_required
def invite(enterprise_id: int):
    form = {k: request.form.get(k, "") for k in ("contact_name", "mobile", "email")}
    try:
        sent = _accounts().invite(g.actor, enterprise_id, form)
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        flash(f"邀请未发出：{_errors(exc)}", "error")
    except PortalRefused as exc:
        flash(exc.message, "error")
    else:
        flash(f"已向 {'、'.join(r['to'] for r in sent['sent'])} 发出企业账号邀请（7 天内有效）", "info")
    return redirect(url_for("enterprises.view", enterprise_id=enterprise_id) + "#qiye-account")


@bp.get("/enterprises/registrations")
@roles_required(*MANAGERS)
def registrations(errors: dict | None = None, failed_for: int | None = None):
    return render_template("enterprises/registrations.html", rows=_accounts().pending(g.actor), errors=errors or {},
                           failed_for=failed_for), (400 if errors else 200)


@bp.post("/enterprises/registrations/<int:account_id>/<any(confirm, refuse):decision>")
@roles_required(*MANAGERS)
def decide(account_id: int, decision: str):
    try:
        if decision == "confirm":
            done = _accounts().confirm(g.actor, account_id)
        else:
            done = _accounts().refuse(g.actor, account_id, request.form.get("reason", ""))
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return registrations(errors=exc.errors, failed_for=account_id)
    except PortalRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("enterprise_accounts.registrations"))
    told = "、".join(t["to"] for t in done["told"]) or "（无可送达的联系方式）"
    flash(f"{done['enterprise']}：{'已确认开通企业账号' if decision == 'confirm' else '已不予确认'}，已告知 {told}", "info")
    return redirect(url_for("enterprise_accounts.registrations"))


@bp.post("/enterprises/<int:enterprise_id>/qiye-account/<any(disable, enable):action>")
@login_required
def set_enabled(enterprise_id: int, action: str):
    try:
        done = _accounts().set_enabled(g.actor, enterprise_id, action == "enable")
    except NotFound:
        abort(404)
    except PortalRefused as exc:
        flash(exc.message, "error")
    else:
        flash(f"{done['enterprise']}的企业账号{'已恢复' if action == 'enable' else '已停用，所有登录已退出'}", "info")
    return redirect(url_for("enterprises.view", enterprise_id=enterprise_id) + "#qiye-account")
