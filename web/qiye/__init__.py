"""企业端: the enterprises' own pages under ``/qiye``, a sign-in realm of their own.

An enterprise session lives under its own key in the signed cookie (``SESSION_KEY``: the contact's id and the
stamp of their and their account's session generations, and the last moment seen), never Flask-Login's: a
staff page sees no actor in it (web/security.py: to /login, or 401 from the API), and an enterprise page given
a staff session answers 403 「请使用企业账号登录」. Signing in to either realm starts a new session, so one
cookie never holds both.

For the other enterprise pages: decorate a view with :func:`enterprise_required` (then ``g.enterprise`` is an
:class:`engine.policy.portal.EnterpriseSession`), extend ``qiye/base.html``, and add a menu entry with
``NAV.append((endpoint, label))``. The service is ``accounts()`` (``EnterpriseAccounts.of(services())``).
"""
from __future__ import annotations

import time
from functools import wraps

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf

from engine.identity import districts
from engine.policy.portal import EnterpriseAccounts, EnterpriseSession
from web.security import services

bp = Blueprint("qiye", __name__, url_prefix="/qiye")
SESSION_KEY = "qiye"
NAV: list[tuple[str, str]] = [("qiye.home", "首页"), ("qiye.account", "账号设置")]
# Per client address, on top of the engine's limits per contact and per code (web/security.py applies them).
# The hourly caps bound probing for addresses that have no account (the engine counts codes actually sent).
SIGN_IN_RATES = {"qiye.login": "10 per minute;60 per hour", "qiye.code": "30 per minute",
                 "qiye.password_login": "30 per minute;200 per hour", "qiye.register": "10 per minute;30 per hour"}


def accounts() -> EnterpriseAccounts:
    return EnterpriseAccounts.of(services())


def current_enterprise() -> EnterpriseSession | None:
    """The enterprise session of this request, or None (ended, idle too long, or none); read once per request."""
    if "enterprise" in g:
        return g.enterprise
    g.enterprise = None
    held = session.get(SESSION_KEY)
    if not isinstance(held, dict):
        return None
    if time.time() - float(held.get("seen", 0)) > services().settings.session_minutes * 60:
        session.pop(SESSION_KEY, None)
        g.enterprise_expired = True
        return None
    contact_id, stamp = held.get("contact"), held.get("stamp")
    who = accounts().session(contact_id, str(stamp)) if isinstance(contact_id, int) else None
    if who is None:
        session.pop(SESSION_KEY, None)
        g.enterprise_ended = True
        return None
    held["seen"] = time.time()
    session.modified = True
    g.enterprise = who
    districts.enter(who.district_id)  # the rest of the request is the enterprise's district's
    return who


def sign_in(who: EnterpriseSession, stamp: str) -> None:
    """A new session for the contact: nothing of an earlier one (staff or enterprise) is carried over."""
    session.clear()
    session[SESSION_KEY] = {"contact": who.contact_id, "stamp": stamp, "seen": time.time()}
    session.permanent = True
    generate_csrf()
    g.enterprise = who


def sign_out() -> None:
    session.clear()
    g.enterprise = None


def staff_refused():
    return render_template("qiye/staff_refused.html"), 403


def enterprise_required(view):
    """An enterprise page: a staff session is refused (403), no enterprise session goes to /qiye/login."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("actor") is not None:
            return staff_refused()
        if current_enterprise() is None:
            if g.get("enterprise_expired"):
                flash("登录已超时，请重新登录", "error")
            elif g.get("enterprise_ended"):
                flash("您的登录已失效（已在别处退出或修改了密码），请重新登录", "error")
            return redirect(url_for("qiye.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)
    return wrapped


def public_page(view):
    """An enterprise page anyone may open (sign-in, invitation, registration), but not with a staff session."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("actor") is not None:
            return staff_refused()
        return view(*args, **kwargs)
    return wrapped


def next_path(target: str | None) -> str:
    """Only an enterprise page of this site (never another host, never a staff page)."""
    if target and target.startswith("/qiye/") and not any(ch.isspace() or ord(ch) < 32 for ch in target) \
            and "\\" not in target and "//" not in target:
        return target
    return url_for("qiye.home")


@bp.app_context_processor
def _portal_globals():
    if not request.path.startswith("/qiye"):
        return {}
    who = g.get("enterprise")
    if who is not None:  # the signed-in enterprise's district
        place = districts.name_of(who.district_id)
    else:  # before sign-in: the one district, or the whole city's portal
        place = "重庆市" if len(accounts().districts()) > 1 else districts.name_of()
    return {"enterprise": who, "qiye_nav": NAV, "portal_place": place, "portal_short": districts.place_of(
        who.district_id if who is not None else None) if place != "重庆市" else "重庆"}


@bp.errorhandler(429)
def _too_many(exc):
    return render_template("qiye/message.html", title="请求过于频繁",
                           message="请求过于频繁，请稍后再试（每个网络地址每分钟的获取验证码和登录次数有限）"), 429


from web.qiye import home as _home  # noqa: E402,F401  (首页: what waits for the enterprise, and by when)
from web.qiye import pages  # noqa: E402,F401  (the routes: sign-in, invitation, account)
from web.qiye import pool as _pool  # noqa: E402,F401  (培育入库: self-check, yearly figures, applying)
from web.qiye import requests as _requests  # noqa: E402,F401  (诉求: submit, follow, rate)
