"""Sessions, CSRF and authorization for the pages and the API.

- Pages: a signed session cookie (HttpOnly, SameSite=Lax; Secure when configured) holding the user
  id and the last activity; idle sessions end after ``session_minutes``.
- Every state-changing request carries the session's CSRF token: a form field for pages, the
  ``X-CSRF-Token`` header for API calls made with the session. API calls with a Bearer token
  carry no cookie and need no CSRF token.
"""
from __future__ import annotations

import hmac
import secrets
import time
from functools import wraps

from flask import abort, current_app, flash, g, jsonify, redirect, request, session, url_for

from engine.identity.authz import Actor

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def services():
    return current_app.extensions["zjtx"]


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _csrf_ok(sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(sent and expected and hmac.compare_digest(sent, expected))


def load_actor() -> None:
    """before_request: who is asking (session for pages, Bearer token or session for the API)."""
    g.actor = None
    g.via_token = False
    auth = request.headers.get("Authorization", "")
    if request.path.startswith("/api/") and auth.startswith("Bearer "):
        g.actor = services().identity.actor_by_token(auth[7:].strip())
        g.via_token = True
        return
    user_id = session.get("uid")
    if user_id is None:
        return
    idle = time.time() - session.get("seen", 0)
    if idle > services().settings.session_minutes * 60:
        session.clear()
        g.session_expired = True
        return
    g.actor = services().identity.actor_by_id(user_id)
    if g.actor is None:
        session.clear()
        return
    session["seen"] = time.time()


def check_csrf():
    """before_request: refuse a state change without the session's token."""
    if request.method in SAFE_METHODS or g.get("via_token"):
        return None
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if _csrf_ok(sent):
        return None
    if request.path.startswith("/api/"):
        return jsonify({"code": "csrf_failed", "message": "请求缺少有效的 CSRF 令牌，请刷新页面后重试"}), 400
    if request.endpoint == "auth.login":
        flash("页面已过期，请重新登录", "error")
        return redirect(url_for("auth.login"))
    abort(400, description="请求缺少有效的 CSRF 令牌，请刷新页面后重试")


def sign_in(actor: Actor) -> None:
    session.clear()  # a new session id on every login
    session["uid"] = actor.user_id
    session["seen"] = time.time()
    session.permanent = True
    csrf_token()


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("actor") is None:
            if request.path.startswith("/api/"):
                return jsonify({"code": "unauthorized", "message": "请先登录，或在请求头中提供 Bearer 令牌"}), 401
            if g.get("session_expired"):
                flash("登录已超时，请重新登录", "error")
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
