"""Service status (aggregate figures, for signed-in users), the Prometheus metrics and the health check.

``/metrics`` may be restricted (docs/deployment.md, "Monitoring"): to the client networks of
``ZJTX_METRICS_ALLOW`` (403 otherwise) and to requests with ``Authorization: Bearer <ZJTX_METRICS_TOKEN>``
(401 with ``WWW-Authenticate: Bearer`` otherwise); both when both are set, open when neither is. The
client address is ``request.remote_addr``: behind a reverse proxy, the proxy's own address unless
``ZJTX_TRUSTED_PROXIES`` is set (then ProxyFix puts the forwarded client address there).
``/healthz`` stays open for load balancers and says only "ok".
"""
from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Blueprint, Response, jsonify, render_template, request

from engine.config import Settings
from web.security import login_required, services

bp = Blueprint("status", __name__)
log = logging.getLogger("zjtx.web")


@bp.record_once
def _warn_if_open(state) -> None:
    """At start-up (the app factory registers the blueprint once per app): say that /metrics is open."""
    settings: Settings = state.app.extensions["zjtx"].settings
    if settings.environment != "development" and not (settings.metrics_token or settings.metrics_allow):
        log.warning("/metrics is open to anyone who can reach this server: set ZJTX_METRICS_TOKEN "
                    "(or ZJTX_METRICS_TOKEN_FILE) and/or ZJTX_METRICS_ALLOW, or keep the reverse proxy from "
                    "forwarding it (docs/deployment.md, Monitoring)")


@bp.get("/status")
@login_required
def index():
    return render_template("status.html", counts=services().queries.counts(),
                           unconfirmed=services().calendars.unconfirmed_years())


@bp.get("/metrics")
def metrics():
    """Prometheus metrics, for the monitoring network (and, when configured, its token) only."""
    refusal = _metrics_refusal(services().settings)
    if refusal is not None:
        return refusal
    return Response(services().health.metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")


@bp.get("/healthz")
def healthz():
    services().health.check()
    return jsonify({"status": "ok"})


def _metrics_refusal(settings: Settings):
    """None when the request may read the metrics; else the answer. The address is checked first, so that
    a stranger's address learns nothing of the token."""
    if settings.metrics_allow and not _address_allowed(request.remote_addr, settings.metrics_allow):
        log.warning("/metrics refused to %s: not in ZJTX_METRICS_ALLOW", request.remote_addr)
        return _refused(403, "forbidden", f"来源地址 {request.remote_addr or '未知'} 不在允许列表（ZJTX_METRICS_ALLOW）中")
    if settings.metrics_token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return _refused(401, "unauthorized", "缺少令牌，请在请求头中提供 Authorization: Bearer <令牌>",
                            'Bearer realm="metrics"')
        # Header values arrive decoded as latin-1; compare the bytes that were sent, in constant time.
        if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), settings.metrics_token.encode("utf-8")):
            log.warning("/metrics refused to %s: wrong token", request.remote_addr)
            return _refused(401, "unauthorized", "令牌不正确", 'Bearer realm="metrics", error="invalid_token"')
    return None


def _address_allowed(address: str | None, networks) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])  # without an IPv6 zone (fe80::1%eth0)
    except ValueError:  # no address (a Unix socket) is nobody's
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:  # ::ffff:10.0.0.5 is 10.0.0.5
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _refused(status: int, code: str, reason: str, challenge: str | None = None):
    response = jsonify({"code": code, "message": f"无权访问监控指标：{reason}"})
    response.status_code = status
    if challenge:
        response.headers["WWW-Authenticate"] = challenge
    return response
