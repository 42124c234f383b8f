"""Flask app factory. Until the web UI issue this serves a status page and the open-task JSON.

Blueprints hold no SQL: they call the engine's service layer.
"""
from __future__ import annotations

from flask import Flask, jsonify

from engine.bootstrap import Engine, bootstrap
from engine.errors import EngineError


def create_app(engine: Engine | None = None, config: dict | None = None) -> Flask:
    app = Flask(__name__)
    engine = engine or bootstrap()
    app.config.update(
        SECRET_KEY=engine.settings.secret_key,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update(config or {})
    app.extensions["zjtx"] = engine
    app.json.ensure_ascii = False

    from web import status

    app.register_blueprint(status.bp)

    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        codes = {"not_found": 404, "permission_denied": 403, "conflict": 409, "validation_failed": 400}
        status_code = next((v for k, v in codes.items() if exc.code.endswith(k) or exc.code == k), 400)
        if exc.code in ("task_not_found", "instance_not_found", "process_not_found", "user_not_found"):
            status_code = 404
        if exc.code == "task_not_open":
            status_code = 409
        return jsonify(exc.to_dict()), status_code

    @app.errorhandler(404)
    def _not_found(_exc):
        return jsonify({"code": "not_found", "message": "页面不存在"}), 404

    @app.errorhandler(405)
    def _not_allowed(_exc):
        return jsonify({"code": "method_not_allowed", "message": "不支持该请求方法"}), 405

    @app.errorhandler(500)
    def _server_error(_exc):
        return jsonify({"code": "server_error", "message": "服务器内部错误，已记录，请联系管理员"}), 500

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'")
        return response

    return app
