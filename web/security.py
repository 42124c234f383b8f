"""Sessions, CSRF, login throttling and authorization for the pages and the API.

- Pages: Flask-Login over a signed session cookie (HttpOnly, SameSite=Lax; Secure when configured).
  The session holds the user id *and the user's session generation*: logout, a password change, an
  administrator's 强制下线, a reset password or a deactivated account bump the generation in the
  database, so every cookie signed in before stops working at once, copies included. Idle sessions
  end after ``session_minutes``.
- CSRF: Flask-WTF. Every state-changing request carries the token: a form field for pages, the
  ``X-CSRF-Token`` header for API calls made with the session. API calls with a Bearer token carry no
  cookie and need no token.
- Throttling: Flask-Limiter caps the login form per client address (a flood guard, generous enough
  for a whole office behind one address); guessing is slowed per (name, address) in the engine
  (engine/identity/throttle.py), which a stranger cannot turn against others.
- The secret: without ``ZJTX_SECRET_KEY`` (or instance/secret_key) the app does not start, except in
  development (``ZJTX_ENV=development``), where a random key lives as long as the process.
"""
from __future__ import annotations

import time
from functools import wraps

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from engine.identity import districts
from engine.identity.authz import Actor

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOGIN_RATE = "120 per minute"  # per client address: a flood guard, not the guessing limit

login_manager = LoginManager()
login_manager.session_protection = None  # phones change networks and addresses; idle time is checked below
csrf = CSRFProtect()


def services():
    return current_app.extensions["zjtx"]


class SignedIn(UserMixin):
    """Flask-Login's user: the actor, identified in the cookie by "user id:session generation"."""

    def __init__(self, actor: Actor):
        self.actor = actor

    def get_id(self) -> str:
        return f"{self.actor.user_id}:{self.actor.session_generation or 0}"


@login_manager.user_loader
def _load_user(session_id: str) -> SignedIn | None:
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None
    actor = services().identity.actor_by_id(int(user_id), int(generation))
    return SignedIn(actor) if actor is not None else None


def init_app(app) -> None:
    """After the blueprints are registered (the login view gets its rate limit)."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in check_csrf: Bearer calls need none
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the session
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRF-Token", "X-CSRFToken"])
    login_manager.init_app(app)
    csrf.init_app(app)
    app.errorhandler(CSRFError)(_csrf_refused)
    # One limiter per app (its counters in this process; each web node counts its own).
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", headers_enabled=True)
    app.view_functions["auth.login"] = limiter.limit(LOGIN_RATE, methods=["POST"])(app.view_functions["auth.login"])
    from web.qiye import SIGN_IN_RATES  # the enterprise realm's sign-in forms, per address too

    for endpoint, rate in SIGN_IN_RATES.items():
        app.view_functions[endpoint] = limiter.limit(rate, methods=["POST"])(app.view_functions[endpoint])


def csrf_token() -> str:
    return generate_csrf()


def load_actor() -> None:
    """before_request: who is asking (session for pages, Bearer token or session for the API). The rest of the
    request works in the district of the one asking (engine/storage/district.py); nobody signed in: the home
    district's public pages."""
    districts.enter(None)
    g.actor = None
    g.via_token = False
    auth = request.headers.get("Authorization", "")
    if request.path.startswith("/api/") and auth.startswith("Bearer "):
        g.actor = services().identity.actor_by_token(auth[7:].strip())
        g.via_token = True
        _work_in_district(g.actor)
        return
    if "_user_id" not in session:
        return
    idle = time.time() - session.get("seen", 0)
    if idle > services().settings.session_minutes * 60:
        logout_user()
        session.clear()
        g.session_expired = True
        return
    if not current_user.is_authenticated:  # ended elsewhere (logout, new password, 强制下线) or deactivated
        session.clear()
        g.session_ended = True
        return
    g.actor = current_user.actor
    session["seen"] = time.time()
    _work_in_district(g.actor)


def _work_in_district(actor: Actor | None) -> None:
    if actor is not None:
        districts.enter(actor.district_id)


def leave_district(_exc=None) -> None:
    """teardown_request: a worker thread's next request starts in no district of this one's."""
    districts.enter(None)


def check_csrf():
    """before_request: refuse a state change without the session's token."""
    if request.method in SAFE_METHODS or g.get("via_token"):
        return None
    if request.path.startswith("/api/") and g.get("actor") is None:  # who first: 401, then the token
        return jsonify({"code": "unauthorized", "message": "请先登录，或在请求头中提供 Bearer 令牌"}), 401
    csrf.protect()  # raises CSRFError, answered by _csrf_refused
    return None


def _csrf_refused(exc: CSRFError):
    if request.path.startswith("/api/"):
        return jsonify({"code": "csrf_failed", "message": "请求缺少有效的 CSRF 令牌，请刷新页面后重试"}), 400
    if request.endpoint == "auth.login":
        flash("页面已过期，请重新登录", "error")
        return redirect(url_for("auth.login"))
    return render_template("error.html", code=400, message="请求缺少有效的 CSRF 令牌，请刷新页面后重试"), 400


def sign_in(actor: Actor) -> None:
    session.clear()  # a new session on every login: nothing of an earlier one is carried over
    login_user(SignedIn(actor))
    session["seen"] = time.time()
    session.permanent = True
    generate_csrf()


def sign_out() -> None:
    logout_user()
    session.clear()


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("actor") is None:
            if request.path.startswith("/api/"):
                return jsonify({"code": "unauthorized", "message": "请先登录，或在请求头中提供 Bearer 令牌"}), 401
            if g.get("session_expired"):
                flash("登录已超时，请重新登录", "error")
            elif g.get("session_ended"):
                flash("您的登录已失效（已在别处退出、修改了密码或被管理员强制下线），请重新登录", "error")
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)
    return wrapped


def roles_required(*roles: str):
    """The actor must hold one of ``roles`` (admins always pass)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            actor: Actor = g.actor
            if not (actor.is_admin or actor.roles & set(roles)):
                if request.path.startswith("/api/"):
                    return jsonify({"code": "permission_denied", "message": "没有权限访问"}), 403
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
