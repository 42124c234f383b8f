"""The enterprise's sign-in (code or password), its invitation page and its account page."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from engine.errors import NotFound, ValidationFailed
from engine.policy.portal import PortalRefused, TooFrequent
from web.qiye import accounts, bp, current_enterprise, enterprise_required, next_path, public_page, sign_in, sign_out

PENDING = "qiye_identifier"  # what the contact typed, between asking for a code and typing it
PLACE = "qiye_district"  # the 所在区县 they chose (a city-wide deployment), kept for the code's page


def _ip() -> str:
    return request.remote_addr or "-"


def _why(exc: PortalRefused | ValidationFailed) -> str:
    """The one sentence a sign-in form shows under its field."""
    return exc.message if isinstance(exc, PortalRefused) else next(iter(exc.errors.values()))


def _login_page(identifier: str, errors: dict, status: int = 200, place: str | None = None):
    return render_template("qiye/login.html", identifier=identifier, errors=errors, places=accounts().districts(),
                           place=place if place is not None else session.get(PLACE, "")), status


def _place() -> str:
    """The 所在区县 the form names (empty: found by the mobile or email)."""
    return (request.form.get("district") or "").strip()[:6]


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Open to anyone, a signed-in staff member too: signing in here starts a new (enterprise) session."""
    identifier = (request.values.get("identifier") or session.get(PENDING) or "").strip()[:255]
    if request.method == "POST":
        place = _place()
        try:
            message = accounts().request_code(identifier, _ip(), place or None)
        except ValidationFailed as exc:
            return _login_page(identifier, exc.errors, 400, place)
        except TooFrequent as exc:
            return _login_page(identifier, {"identifier": exc.message}, 429, place)
        except PortalRefused as exc:
            return _login_page(identifier, {"identifier": exc.message}, 400, place)
        session[PENDING], session[PLACE] = identifier, place
        flash(message, "info")
        return redirect(url_for("qiye.code", next=request.args.get("next")))
    return _login_page(identifier, {})


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    identifier = str(session.get(PENDING) or "")
    if not identifier:
        return redirect(url_for("qiye.login"))
    if request.method == "POST":
        try:
            who, stamp = accounts().sign_in_with_code(identifier, request.form.get("code", ""), _ip(),
                                                      session.get(PLACE) or None)
        except (PortalRefused, ValidationFailed) as exc:
            return render_template("qiye/code.html", identifier=identifier, errors={"code": _why(exc)}), 400
        sign_in(who, stamp)
        flash(f"欢迎，{who.contact_name}", "info")
        return redirect(next_path(request.args.get("next")))
    return render_template("qiye/code.html", identifier=identifier, errors={})


@bp.post("/login/password")
def password_login():
    identifier = (request.form.get("identifier") or "").strip()[:255]
    place = _place()
    try:
        who, stamp = accounts().sign_in_with_password(identifier, request.form.get("password", ""), _ip(),
                                                      place or None)
    except ValidationFailed as exc:
        return _login_page(identifier, {"password": _why(exc), **exc.errors}, 401, place)
    except PortalRefused as exc:
        return _login_page(identifier, {"password": _why(exc)}, 401, place)
    sign_in(who, stamp)
    return redirect(next_path(request.args.get("next")))


@bp.post("/logout")
def logout():
    """Ends this contact's sessions everywhere (a copied cookie included)."""
    who = current_enterprise()
    if who is not None:
        accounts().sign_out(who)
    sign_out()
    flash("已退出企业账号", "info")
    return redirect(url_for("qiye.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public_page
def invite(token: str):
    shown = accounts().invitation(token)
    if shown is None:
        abort(404)
    current_enterprise()  # the header and the used link's words know a contact already signed in
    if request.method == "POST" and shown["state"] == "open":
        try:
            accepted = accounts().accept(token)
        except NotFound:
            abort(404)
        except PortalRefused as exc:
            return render_template("qiye/invite.html", invitation=shown, error=exc.message, token=token), 409
        sign_out()  # whoever was signed in here, the new contact signs in afresh
        session[PENDING] = accepted["identifier"]
        flash("企业账号已开通。请获取验证码登录", "info")
        return redirect(url_for("qiye.login"))  # the address is prefilled from the session, never in the URL
    status = 200 if shown["state"] == "open" or request.method == "GET" else 409
    return render_template("qiye/invite.html", invitation=shown, error=None, token=token), status


@bp.route("/account", methods=["GET", "POST"])
@enterprise_required
def account():
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            stamp = accounts().set_password(g.enterprise, request.form.get("old_password", ""),
                                            request.form.get("new_password", ""), request.form.get("confirm_password", ""))
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            sign_in(g.enterprise, stamp)  # this session goes on; every other one of the contact has ended
            flash("密码已设置；以后也可用手机号或邮箱加密码登录。其他设备上的登录已退出", "info")
            return redirect(url_for("qiye.account"))
    return render_template("qiye/account.html", errors=errors, has_password=accounts().has_password(g.enterprise)), (
        400 if errors else 200)


@bp.route("/register", methods=["GET", "POST"])
@public_page
def register():
    """Self-registration: checked against the registry, then the service officer confirms it."""
    form = {k: (request.form.get(k) or "").strip()[:255] for k in ("uscc", "enterprise_name", "contact_name", "mobile",
                                                                   "email")}
    if request.method == "POST":
        try:
            done = accounts().register(form, _ip())
        except ValidationFailed as exc:
            return render_template("qiye/register.html", form=form, errors=exc.errors), 400
        return render_template("qiye/message.html", title="注册申请已提交", message=(
            f"已通知{'、'.join(done['told']) or '服务专员'}核实确认。确认后您会收到短信或邮件，"
            "届时用所填手机号或邮箱获取验证码登录。"))
    return render_template("qiye/register.html", form=form, errors={})
