"""Login, logout and password change."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.errors import ValidationFailed
from engine.identity.accounts import LoginRefused
from web.params import same_site_path
from web.security import login_required, services, sign_in, sign_out

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            actor = services().identity.login(username, password, request.remote_addr or "-")
        except LoginRefused as exc:
            flash(exc.message, "error")
            return render_template("login.html", username=username), 401
        sign_in(actor)
        return redirect(same_site_path(request.args.get("next")))
    return render_template("login.html", username="")


@bp.post("/logout")
def logout():
    """Ends this session and every other session of the user (a copied cookie included)."""
    if g.get("actor") is not None:
        services().identity.sign_out(g.actor)
    sign_out()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    errors = {}
    if request.method == "POST":
        try:
            actor = services().identity.change_password(g.actor, request.form.get("old_password", ""),
                                                        request.form.get("new_password", ""),
                                                        request.form.get("confirm_password", ""))
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            sign_in(actor)  # this session goes on under the new generation; every other one has ended
            flash("密码已修改；其他设备上的登录已退出", "info")
            return redirect(url_for("pages.inbox"))
    return render_template("password.html", errors=errors), (400 if errors else 200)
