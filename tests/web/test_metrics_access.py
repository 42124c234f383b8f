"""Who may read /metrics: anyone when nothing is configured; with ZJTX_METRICS_TOKEN the Bearer token
(401 otherwise), with ZJTX_METRICS_ALLOW the listed addresses and networks (403 otherwise), both when both
are set. /healthz stays open and says only "ok" (web/status.py, engine/config.py)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigurationError
from web import create_app

pytestmark = pytest.mark.sqlite_only

TOKEN = "metrics-" + uuid.uuid4().hex
OUTSIDE = "203.0.113.9"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_with(tmp_path, make_engine):
    """``app_with(ZJTX_…="…")``: an app on its own engine whose settings come from those variables."""
    engines = []

    def build(**env):
        settings = Settings.from_env(env)
        fields = {name: getattr(settings, name) for name in ("metrics_token", "metrics_allow", "trusted_proxies",
                                                             "environment")}
        engine = make_engine(f"sqlite:///{tmp_path / f'zjtx{len(engines)}.sqlite3'}", **fields)
        engines.append(engine)
        return create_app(services=engine, config={"TESTING": True})

    yield build
    for engine in engines:
        engine.close()


def scrape(app, ip="10.0.0.5", token=None, path="/metrics", **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().get(path, headers=headers, environ_base={"REMOTE_ADDR": ip})


def served(response) -> bool:
    """The metrics themselves, not a refusal."""
    return (response.status_code == 200 and response.content_type.startswith("text/plain")
            and "zjtx_tasks_open" in response.get_data(as_text=True))


def refused(response, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and body["message"].startswith("无权访问监控指标：")
    assert "zjtx_" not in response.get_data(as_text=True)
    return body["message"]


def test_metrics_stay_open_to_anyone_when_nothing_is_configured(app_with):
    app = app_with()
    assert served(scrape(app, ip=OUTSIDE))
    assert served(scrape(app, ip="2001:db8::1", token="anything"))
    assert "X-RateLimit-Limit" not in scrape(app).headers  # no default limit applies to scrapes


def test_a_set_token_is_required_and_compared_exactly(app_with):
    app = app_with(ZJTX_METRICS_TOKEN=TOKEN)
    missing = scrape(app)
    assert "Authorization: Bearer" in refused(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in ("wrong-token-" + uuid.uuid4().hex, TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "令牌" + TOKEN):
        answer = scrape(app, token=wrong)
        assert "令牌不正确" in refused(answer, 401, "unauthorized")
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert refused(scrape(app, Authorization=f"Basic {TOKEN}"), 401, "unauthorized")
    assert refused(scrape(app, Authorization="Bearer "), 401, "unauthorized")
    assert served(scrape(app, token=TOKEN, ip=OUTSIDE))  # no allow-list: the token alone decides
    assert served(scrape(app, Authorization=f"bearer {TOKEN}"))  # the scheme is case-insensitive


def test_the_token_can_come_from_a_file(app_with, tmp_path):
    path = tmp_path / "metrics_token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    app = app_with(ZJTX_METRICS_TOKEN_FILE=str(path))
    assert refused(scrape(app), 401, "unauthorized")
    assert served(scrape(app, token=TOKEN))
    # as for the secret key, the variable wins over the file
    assert Settings.from_env({"ZJTX_METRICS_TOKEN": "x" * 20, "ZJTX_METRICS_TOKEN_FILE": str(path)}
                             ).metrics_token == "x" * 20
    assert TOKEN not in repr(Settings.from_env({"ZJTX_METRICS_TOKEN_FILE": str(path)}))


@pytest.mark.parametrize("env, says", [
    ({"ZJTX_METRICS_TOKEN_FILE": "/nonexistent/metrics_token"}, "无法读取 ZJTX_METRICS_TOKEN_FILE"),
    ({"ZJTX_METRICS_TOKEN": "short"}, "ZJTX_METRICS_TOKEN 太短：至少 16 个字符"),
])
def test_a_token_that_cannot_be_used_stops_the_start(env, says):
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(env)
    assert says in raised.value.message


def test_an_empty_token_file_stops_the_start(tmp_path):
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"令牌文件.*是空的"):
        Settings.from_env({"ZJTX_METRICS_TOKEN_FILE": str(tmp_path / "empty")})


def test_the_allow_list_takes_addresses_and_networks_of_both_kinds(app_with):
    app = app_with(ZJTX_METRICS_ALLOW="192.0.2.7, 10.8.0.0/16,fd00:1::/32 , 2001:db8::5,")
    for ip in ("192.0.2.7", "10.8.0.1", "10.8.255.254", "fd00:1:abcd::3", "2001:db8::5", "::ffff:10.8.3.4"):
        assert served(scrape(app, ip=ip)), ip
    for ip in ("192.0.2.8", "10.9.0.1", "fd00:2::1", "2001:db8::6", OUTSIDE, "::1", "127.0.0.1"):
        answer = scrape(app, ip=ip)
        assert ip in refused(answer, 403, "forbidden") and "ZJTX_METRICS_ALLOW" in answer.get_json()["message"]
        assert "WWW-Authenticate" not in answer.headers  # no credentials would help
    assert refused(scrape(app, ip=""), 403, "forbidden")  # no address (a Unix socket): nobody's


def test_with_both_set_both_must_pass(app_with):
    app = app_with(ZJTX_METRICS_TOKEN=TOKEN, ZJTX_METRICS_ALLOW="10.8.0.0/16")
    assert refused(scrape(app, ip="10.8.0.1"), 401, "unauthorized")
    assert refused(scrape(app, ip="10.8.0.1", token="wrong-" + TOKEN), 401, "unauthorized")
    outside = scrape(app, ip=OUTSIDE, token=TOKEN)  # the right token from the wrong place
    assert refused(outside, 403, "forbidden") and "WWW-Authenticate" not in outside.headers
    assert refused(scrape(app, ip=OUTSIDE), 403, "forbidden")  # the address first: a stranger hears of no token
    assert served(scrape(app, ip="10.8.0.1", token=TOKEN))


@pytest.mark.parametrize("value, entry, hint", [
    ("10.0.0.0/8, 10.0.0.300", "10.0.0.300", "应为 IP 地址或网段"),
    ("10.8.1.0/16", "10.8.1.0/16", "是否应为 10.8.0.0/16"),
    ("monitor.internal", "monitor.internal", "应为 IP 地址或网段"),
    ("fd00::/129", "fd00::/129", "应为 IP 地址或网段"),
    ("10.0.0.0/8; 10.1.0.0/16", "10.0.0.0/8; 10.1.0.0/16", "应为 IP 地址或网段"),
])
def test_an_invalid_allow_entry_stops_the_start_naming_it(value, entry, hint):
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"ZJTX_METRICS_ALLOW": value})
    assert raised.value.message.startswith(f"ZJTX_METRICS_ALLOW 中的「{entry}」无效：")
    assert hint in raised.value.message


def test_the_web_entry_point_refuses_to_start_with_an_invalid_allow_list(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite3'}", "ZJTX_METRICS_ALLOW": "10.0.0.0/33"}
    done = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "无法启动：ZJTX_METRICS_ALLOW 中的「10.0.0.0/33」无效" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "never.sqlite3").exists()


def test_behind_trusted_proxies_the_forwarded_address_is_checked(app_with):
    proxy = "127.0.0.1"
    app = app_with(ZJTX_TRUSTED_PROXIES="1", ZJTX_METRICS_ALLOW="10.8.0.0/16")
    assert served(scrape(app, ip=proxy, **{"X-Forwarded-For": "10.8.0.9"}))
    assert OUTSIDE in refused(scrape(app, ip=proxy, **{"X-Forwarded-For": OUTSIDE}), 403, "forbidden")
    # a client's own X-Forwarded-For is believed no further than the one proxy appends to
    assert refused(scrape(app, ip=proxy, **{"X-Forwarded-For": f"10.8.0.9, {OUTSIDE}"}), 403, "forbidden")
    untrusted = app_with(ZJTX_METRICS_ALLOW="10.8.0.0/16")  # without trusted proxies the proxy is the client
    assert proxy in refused(scrape(untrusted, ip=proxy, **{"X-Forwarded-For": "10.8.0.9"}), 403, "forbidden")
    assert served(scrape(untrusted, ip="10.8.0.9", **{"X-Forwarded-For": OUTSIDE}))


def test_healthz_stays_open_and_says_only_ok(app_with):
    app = app_with(ZJTX_METRICS_TOKEN=TOKEN, ZJTX_METRICS_ALLOW="10.8.0.0/16")
    for _ in range(130):  # load balancers ask often: no rate limit
        answer = scrape(app, ip=OUTSIDE, path="/healthz")
        assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert "WWW-Authenticate" not in answer.headers and "X-RateLimit-Limit" not in answer.headers
    assert answer.get_data(as_text=True).strip() == '{"status":"ok"}'


@pytest.mark.parametrize("env, warned", [
    ({}, True),
    ({"ZJTX_ENV": "development"}, False),
    ({"ZJTX_METRICS_TOKEN": TOKEN}, False),
    ({"ZJTX_METRICS_ALLOW": "10.8.0.0/16"}, False),
], ids=["open", "development", "token", "allow-list"])
def test_open_metrics_are_warned_about_once_at_start_up_outside_development(app_with, env, warned):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    # bootstrap's configure_logging keeps zjtx.* off the root logger (caplog) and resets zjtx's own handlers
    logger = logging.getLogger("zjtx.web")
    logger.addHandler(handler)
    try:
        app = app_with(**env)
        scrape(app, token=env.get("ZJTX_METRICS_TOKEN"))
        scrape(app, token=env.get("ZJTX_METRICS_TOKEN"))
    finally:
        logger.removeHandler(handler)
    open_warnings = [r for r in records if r.levelno == logging.WARNING and "/metrics is open" in r.getMessage()]
    assert len(open_warnings) == (1 if warned else 0)
