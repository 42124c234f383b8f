"""Flask app factory: pages for liaisons, dispatchers, the office and admins, plus the JSON API.

Blueprints hold no SQL and open no transaction: each action is one call of an engine service
(``services().identity``, ``.workflows``, ``.repository`` …), which checks who may do it and keeps the
audit record in its transaction (tests/test_layering.py checks that web/ never touches the database).
"""
from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask, g, jsonify, render_template, request
from flask_compress import Compress
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.bootstrap import Services, bootstrap
from engine.config import Settings
from engine.errors import ConfigurationError, DatabaseError, EngineError
from engine.localtime import DATETIME_FORMAT, shown
from engine.queries.tasks import days_left_label
from web.params import BoundedInt

# Pages and API answers are compressed when the browser accepts it (downloads such as .xlsx and .docx
# are compressed already); static files compress themselves, once per content (web/assets.py).
COMPRESSED_TYPES = ["text/html", "text/css", "text/plain", "text/csv", "application/javascript", "text/javascript",
                    "application/json", "image/svg+xml", "application/xml"]
STATUS_BY_CODE = {"validation_failed": 400, "permission_denied": 403, "conflict": 409, "task_not_open": 409,
                  "unauthorized": 401}
NAV = [  # (endpoint, label, roles allowed or None for everyone)
    ("pages.inbox", "我的待办", None),
    ("pages.console", "交办台", {"dispatcher", "service_officer", "admin"}),
    ("dashboard.dashboard", "统计", {"dispatcher", "leading_group_office", "group_leader", "deputy_group_leader",
                                   "department_head", "admin"}),
    ("enterprises.index", "企业库", {"dispatcher", "service_officer", "leading_group_office", "admin", "liaison",
                                    "department_head"}),
    ("guidance.index", "拟培育库", {"liaison", "department_head", "dispatcher", "admin"}),
    ("circulars.index", "通报", None),
    ("meetings.index", "联席会议", {"dispatcher", "leading_group_office", "group_leader",
                                        "deputy_group_leader", "service_officer", "admin"}),
    ("ledgers.index", "台账", {"dispatcher", "leading_group_office", "admin", "department_head", "liaison",
                               "service_officer"}),
    ("policy.index", "政策条款", {"dispatcher", "leading_group_office", "group_leader", "deputy_group_leader",
                                  "department_head", "designer", "admin"}),
    ("district.settings", "本区设置", {"dispatcher", "leading_group_office", "admin"}),
    ("pages.notifications", "消息", None),
    ("designer.index", "流程设计", {"designer", "admin"}),
    ("admin.index", "系统管理", {"admin"}),
]


def session_secret(settings: Settings) -> str:
    """The key that signs sessions and CSRF tokens. Never a value anyone could know: without one
    configured, only development (``ZJTX_ENV=development``) starts, with a key that lives as long as
    the process (sessions end on restart)."""
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise ConfigurationError("会话密钥 ZJTX_SECRET_KEY 太短：至少 32 个字符，可用 zjtx secret-key 生成")
        return settings.secret_key
    if settings.environment == "development":
        import secrets

        return secrets.token_hex(32)
    raise ConfigurationError("未设置会话密钥：请设置环境变量 ZJTX_SECRET_KEY（各网页节点相同），"
                             "或运行 zjtx secret-key 在 instance/secret_key 生成；开发时可设 ZJTX_ENV=development")


def me_label(me: dict | None) -> str:
    """The header's 「交办员 · 区经济信息委」: the roles without their parenthesised department, the
    department once, and the person's name first unless it only repeats them (the demo accounts')."""
    if not me:
        return ""
    roles = [re.sub(r"（.*?）$", "", r) for r in me["roles"]]
    name = me["display_name"]
    repeats = {me["department"], *roles, *(me["department"] + r for r in roles),
               *(me["department"] + r.removeprefix("部门") for r in roles)}
    return " · ".join([*([name] if name not in repeats else []), "、".join(roles), me["department"]])


def _status_for(exc: EngineError) -> int:
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    return 404 if exc.code.endswith("not_found") else 400


def create_app(services: Services | None = None, config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)  # web/assets.py serves /static and /vendor
    services = services or bootstrap()
    app.config.update(
        SECRET_KEY=session_secret(services.settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=services.settings.base_url.startswith("https://"),
        # The cookie outlives the idle limit so that the server can say "登录已超时"; idle is checked per request.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=11 * 1024 * 1024,
        COMPRESS_MIMETYPES=COMPRESSED_TYPES, COMPRESS_ALGORITHM=["br", "gzip"], COMPRESS_BR_LEVEL=5,
        COMPRESS_STREAMS=False,
    )
    app.config.update(config or {})
    app.extensions["zjtx"] = services
    app.json.ensure_ascii = False
    app.url_map.converters["int"] = BoundedInt  # before the blueprints' routes are built

    from web import assets, security

    app.before_request(security.load_actor)
    app.before_request(security.check_csrf)
    app.teardown_request(security.leave_district)
    _register_blueprints(app)
    security.init_app(app)
    assets.init_app(app)
    Compress(app)
    # A stored (UTC) moment as people read it: {{ v.deployed_at|beijing }} → 2026-12-02 14:30 (Beijing time)
    app.add_template_filter(lambda moment, fmt=DATETIME_FORMAT, empty="": shown(moment, services.settings.timezone,
                                                                                  fmt, empty), "beijing")
    if services.settings.trusted_proxies:  # the client's address as the reverse proxy saw it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=services.settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=services.settings.trusted_proxies)

    @app.context_processor
    def _globals():
        from engine.deadlines import ladder

        actor = g.get("actor")
        nav = [(e, label) for e, label, roles in NAV
               if actor is not None and (roles is None or actor.is_admin or actor.roles & roles)]
        if services.city.is_city(actor):  # 市经济信息委: the districts side by side
            nav.insert(1, ("city.overview", "全市情况"))
        if actor is not None and services.district_admin.may(actor):
            nav.append(("city.districts", "区县管理"))
        me = services.identity.profile(actor) if actor else None
        return {"csrf_token": security.csrf_token, "actor": actor, "nav": nav, "ladder": ladder.current(),
                "district_name": services.city.name_of(actor.district_id if actor else None) or "黔江区",
                "unread": services.inbox.unread_count(actor) if actor else 0, "me": me, "me_label": me_label(me)}

    app.add_template_filter(days_left_label, "days_left")

    _handle_errors(app)
    app.after_request(_headers)
    return app


def _handle_errors(app: Flask) -> None:
    """Engine errors, HTTP errors, a lost database connection and the rest: JSON under /api/, a page elsewhere."""
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        status = _status_for(exc)
        if request.path.startswith("/api/"):
            return jsonify(exc.to_dict()), status
        return render_template("error.html", code=status, message=exc.message), status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {400: "请求有误", 401: "请先登录", 403: "没有权限访问该页面", 404: "页面不存在，或您无权查看",
                    405: "不支持该请求方法", 413: "上传的文件太大", 429: "请求过于频繁，请稍后再试"}
        message = messages.get(exc.code, "请求无法处理")
        if exc.code == 400 and exc.description and "CSRF" in exc.description:
            message = exc.description
        if request.path.startswith("/api/") or request.path == "/healthz":
            return jsonify({"code": exc.name.lower().replace(" ", "_"), "message": message}), exc.code
        return render_template("error.html", code=exc.code, message=message), exc.code

    @app.errorhandler(DatabaseError)
    def _database_error(exc: DatabaseError):
        if not exc.connection_invalidated:
            return _server_error(exc)
        # The database dropped the connection (a restart): the transaction was rolled back and the pool
        # has been renewed, so trying again works.
        app.logger.warning("database connection lost on %s: %s", request.path, exc.orig)
        message = "数据库连接中断，本次操作未保存，请稍后重试"
        if request.path.startswith("/api/") or request.path == "/healthz":
            return jsonify({"code": "database_unavailable", "message": message}), 503
        return render_template("error.html", code=503, message=message), 503

    @app.errorhandler(Exception)
    def _server_error(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        message = "服务器内部错误，已记录，请联系管理员"
        if request.path.startswith("/api/"):
            return jsonify({"code": "server_error", "message": message}), 500
        return render_template("error.html", code=500, message=message), 500


def _headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'")
    if g.get("actor") is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_blueprints(app: Flask) -> None:
    """One blueprint per part of the product."""
    from web import admin, api, auth, circulars, city, dashboard, designer, enterprises, ledgers, pages, status
    from web import district as settings_pages  # 本区设置, 区科技局's 科技型企业 list
    from web import gongshi as public_notice  # 公示 of admissions and the public's objections (no sign-in)
    from web import guidance as guiding  # 拟培育库: gaps to the cultivation standard, guidance visits
    from web import meetings as joint  # 联席会议
    from web import pauses as pausing  # 挂起: the task page's forms, the API's pause and resume
    from web import policy as plan  # 政策条款: the plan clause by clause, what encodes it, coverage
    from web import qiye as enterprise_portal  # 企业端: the enterprises' own pages, a sign-in realm of their own
    from web import recognition as recommending  # 推荐申报: a batch's recommendation list
    from web import supervision as listed  # 挂牌督办
    from web import year_updates as yearly  # the yearly figures enterprises submit, for their service officers
    from web.qiye import staff as enterprise_accounts  # 企业端 accounts: invitations, registrations to confirm

    for blueprint in (auth.bp, pages.bp, dashboard.bp, enterprises.bp, circulars.bp, ledgers.bp, designer.bp, admin.bp,
                      api.bp, status.bp, listed.bp, pausing.bp, guiding.bp, joint.bp, recommending.bp, plan.bp,
                      settings_pages.bp, enterprise_portal.bp, enterprise_accounts.bp, public_notice.bp, yearly.bp,
                      city.bp):
        app.register_blueprint(blueprint)
