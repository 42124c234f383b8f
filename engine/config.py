"""Settings read from the environment, once, by :func:`engine.bootstrap.bootstrap`."""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROCESSES_DIR = PROJECT_ROOT / "processes"
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "instance" / "zjtx.sqlite3"
DEFAULT_SECRET_FILE = PROJECT_ROOT / "instance" / "secret_key"  # `zjtx secret-key` writes it (make run)


def _secret(env) -> str | None:
    """ZJTX_SECRET_KEY, else the key file (ZJTX_SECRET_KEY_FILE or instance/secret_key) when it exists."""
    if env.get("ZJTX_SECRET_KEY"):
        return env["ZJTX_SECRET_KEY"]
    path = Path(env.get("ZJTX_SECRET_KEY_FILE") or DEFAULT_SECRET_FILE)
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
METRICS_TOKEN_MIN_LENGTH = 16


def _metrics_token(env) -> str | None:
    """ZJTX_METRICS_TOKEN, else the file ZJTX_METRICS_TOKEN_FILE names (no default file: unset is open).
    A file that is named but missing or empty stops the start: /metrics must not open by mistake."""
    token = env.get("ZJTX_METRICS_TOKEN") or None
    source = "ZJTX_METRICS_TOKEN"
    if token is None and env.get("ZJTX_METRICS_TOKEN_FILE"):
        path = Path(env["ZJTX_METRICS_TOKEN_FILE"])
        source = "ZJTX_METRICS_TOKEN_FILE"
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"无法读取 ZJTX_METRICS_TOKEN_FILE 指定的令牌文件「{path}」：{exc}") from exc
        if not token:
            raise ConfigurationError(f"ZJTX_METRICS_TOKEN_FILE 指定的令牌文件「{path}」是空的")
    if token is not None and len(token) < METRICS_TOKEN_MIN_LENGTH:
        raise ConfigurationError(f"监控令牌 {source} 太短：至少 {METRICS_TOKEN_MIN_LENGTH} 个字符，"
                                 "可用 openssl rand -hex 32 生成")
    return token


def metrics_networks(value: str, variable: str = "ZJTX_METRICS_ALLOW") -> tuple[Network, ...]:
    """Comma-separated addresses and networks (IPv4 or IPv6: ``10.0.0.5, 10.8.0.0/16, fd00::/8``)."""
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError:
            hint = "应为 IP 地址或网段，如 10.0.0.5、10.8.0.0/16、fd00::/8"
            try:  # host bits set (10.8.1.0/16): say which network it would be
                hint = f"网段的主机位不为零，是否应为 {ipaddress.ip_network(entry, strict=False)}"
            except ValueError:
                pass
            raise ConfigurationError(f"{variable} 中的「{entry}」无效：{hint}", variable=variable,
                                     entry=entry) from None
    return tuple(networks)


WECOM_VARIABLES = ("ZJTX_WECOM_CORP_ID", "ZJTX_WECOM_AGENT_ID", "ZJTX_WECOM_SECRET")


def _wecom(env) -> dict:
    """The WeCom application's settings: all of ZJTX_WECOM_CORP_ID, _AGENT_ID (a number) and _SECRET, or none."""
    given = [name for name in WECOM_VARIABLES if env.get(name)]
    if given and len(given) < len(WECOM_VARIABLES):
        missing = "、".join(name for name in WECOM_VARIABLES if name not in given)
        raise ConfigurationError(f"企业微信应用消息需要同时设置 {'、'.join(WECOM_VARIABLES)}：缺少 {missing}")
    agent = (env.get("ZJTX_WECOM_AGENT_ID") or "").strip()
    if agent and not (agent.isascii() and agent.isdigit()):
        raise ConfigurationError(f"ZJTX_WECOM_AGENT_ID 应为应用的 AgentId（数字，如 1000002），而不是「{agent}」")
    base = (env.get("ZJTX_WECOM_API_BASE") or Settings.wecom_api_base).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"ZJTX_WECOM_API_BASE 应以 https:// 开头，如 https://qyapi.weixin.qq.com，而不是「{base}」")
    return {"wecom_corp_id": env.get("ZJTX_WECOM_CORP_ID") or None, "wecom_agent_id": int(agent) if agent else None,
            "wecom_secret": env.get("ZJTX_WECOM_SECRET") or None, "wecom_api_base": base}


def load_sms_templates(path: Path | str | None) -> dict[str, dict]:
    """The deployment's SMS template map (ZJTX_SMS_TEMPLATES, notifications/channels/sms_providers.py), checked:
    every entry names one of our notices (notifications/templates/<name>.txt), an approved template id and the
    list of the notice's values filling it, in order."""
    known = {p.stem for p in (PROJECT_ROOT / "notifications" / "templates").glob("*.txt")}
    if not path:
        raise ConfigurationError("腾讯云短信需要模板对照文件：请设置 ZJTX_SMS_TEMPLATES（JSON，见 notifications/channels/"
                                 "sms_providers.py）")
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"无法读取 ZJTX_SMS_TEMPLATES 指定的短信模板文件「{path}」：{exc}") from None
    except ValueError as exc:
        raise ConfigurationError(f"短信模板文件「{path}」不是有效的 JSON：{exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigurationError(f"短信模板文件「{path}」应为对象：通知名 → {{\"id\": 模板ID, \"params\": [变量名…]}}")
    out = {}
    for name, entry in raw.items():
        if name not in known:
            raise ConfigurationError(f"短信模板文件中的「{name}」不是本系统的通知（可用：{'、'.join(sorted(known))}）")
        ok = isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"].strip() and \
            isinstance(entry.get("params", []), list) and all(isinstance(p, str) for p in entry.get("params", []))
        if not ok:
            raise ConfigurationError(f"短信模板文件中「{name}」应为 {{\"id\": \"模板ID\", \"params\": [\"变量名\", …]}}")
        out[name] = {"id": entry["id"].strip(), "params": list(entry.get("params", []))}
    return out


SMS_PROVIDERS = ("gateway", "tencent")
TENCENT_VARIABLES = ("ZJTX_SMS_SECRET_ID", "ZJTX_SMS_SECRET_KEY", "ZJTX_SMS_APP_ID", "ZJTX_SMS_SIGN_NAME",
                     "ZJTX_SMS_TEMPLATES")


def _sms(env) -> dict:
    """The SMS provider's settings: ``gateway`` needs only its URL (none: no SMS); ``tencent`` its credentials,
    application, signature and templates file (its endpoint and region have defaults)."""
    provider = (env.get("ZJTX_SMS_PROVIDER") or "gateway").strip().lower()
    if provider not in SMS_PROVIDERS:
        raise ConfigurationError(f"ZJTX_SMS_PROVIDER 应为 {' 或 '.join(SMS_PROVIDERS)}，而不是「{provider}」")
    missing = [name for name in TENCENT_VARIABLES if not env.get(name)] if provider == "tencent" else []
    if missing:
        raise ConfigurationError(f"腾讯云短信（ZJTX_SMS_PROVIDER=tencent）需要设置：{'、'.join(missing)}")
    url = env.get("ZJTX_SMS_GATEWAY_URL") or None
    if url and not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"ZJTX_SMS_GATEWAY_URL 应以 http:// 或 https:// 开头，而不是「{url}」")
    return {"sms_provider": provider, "sms_gateway_url": url, "sms_secret_id": env.get("ZJTX_SMS_SECRET_ID") or None,
            "sms_secret_key": env.get("ZJTX_SMS_SECRET_KEY") or None, "sms_app_id": env.get("ZJTX_SMS_APP_ID") or None,
            "sms_sign_name": env.get("ZJTX_SMS_SIGN_NAME") or None,
            "sms_region": env.get("ZJTX_SMS_REGION") or Settings.sms_region,
            "sms_templates": Path(env["ZJTX_SMS_TEMPLATES"]) if env.get("ZJTX_SMS_TEMPLATES") else None}


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    timezone: str = "Asia/Shanghai"
    processes_dir: Path = PROCESSES_DIR
    # Signs sessions and CSRF tokens; the web refuses to start without one outside development.
    secret_key: str | None = field(default=None, repr=False)
    environment: str = "production"  # production | development (ZJTX_ENV)
    trusted_proxies: int = 0  # reverse proxies in front of the web nodes whose X-Forwarded-For is believed
    # /metrics: a Bearer token and/or client networks it is served to (web/status.py); neither: open
    metrics_token: str | None = field(default=None, repr=False)
    metrics_allow: tuple[Network, ...] = ()
    # Escalation defaults (a task's BPMN properties override them).
    warn_before_working_days: int = 1
    supervise_after_working_days: int = 3
    warn_hour: int = 9  # 预警 goes out at this local hour of its working day
    # Scheduler and delivery
    tick_seconds: float = 1.0
    delivery_max_attempts: int = 6
    delivery_backoff_seconds: float = 30.0
    delivery_lease_seconds: float = 120.0
    # Email (SMTP)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_sender: str = "zjtx@qianjiang.example"
    smtp_timeout: float = 10.0
    webhook_timeout: float = 10.0
    # 企业微信 / 政务微信 application messages (notifications/channels/wecom.py): on when all three are set
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: str | None = field(default=None, repr=False)
    wecom_api_base: str = "https://qyapi.weixin.qq.com"  # 政务微信: the deployment's own API address
    # Text messages to enterprises' contacts (notifications/channels/sms.py, sms_providers.py): the provider
    # adapter (gateway: the district's own, at sms_gateway_url; tencent: 腾讯云短信, its endpoint overridable by
    # sms_gateway_url, approved templates mapped in the sms_templates file)
    sms_provider: str = "gateway"
    sms_gateway_url: str | None = None
    sms_secret_id: str | None = None
    sms_secret_key: str | None = field(default=None, repr=False)
    sms_app_id: str | None = None
    sms_sign_name: str | None = None
    sms_region: str = "ap-guangzhou"
    sms_templates: Path | None = None
    base_url: str = "http://127.0.0.1:5000"
    attachment_dir: Path = PROJECT_ROOT / "instance" / "attachments"
    session_minutes: int = 30
    log_format: str = "text"  # text | json
    # Diagram code (README: "Sandbox"): limits of one evaluation, and of one engine step
    script_cpu_seconds: float = 1.0
    script_wall_seconds: float = 3.0
    script_memory_mb: int = 256
    script_workers: int = 2
    step_max_tasks: int = 1000
    step_max_seconds: float = 15.0
    # A timer or resumed step that keeps failing becomes an incident after this many attempts
    step_max_attempts: int = 3

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            timezone=env.get("ZJTX_TIMEZONE") or cls.timezone,
            processes_dir=Path(env.get("ZJTX_PROCESSES_DIR") or PROCESSES_DIR),
            secret_key=_secret(env),
            environment=env.get("ZJTX_ENV") or cls.environment,
            trusted_proxies=int(env.get("ZJTX_TRUSTED_PROXIES") or cls.trusted_proxies),
            metrics_token=_metrics_token(env),
            metrics_allow=metrics_networks(env.get("ZJTX_METRICS_ALLOW") or ""),
            warn_before_working_days=int(env.get("ZJTX_WARN_BEFORE_WORKING_DAYS") or cls.warn_before_working_days),
            supervise_after_working_days=int(env.get("ZJTX_SUPERVISE_AFTER_WORKING_DAYS")
                                             or cls.supervise_after_working_days),
            tick_seconds=float(env.get("ZJTX_TICK_SECONDS") or cls.tick_seconds),
            delivery_max_attempts=int(env.get("ZJTX_DELIVERY_MAX_ATTEMPTS") or cls.delivery_max_attempts),
            delivery_backoff_seconds=float(env.get("ZJTX_DELIVERY_BACKOFF_SECONDS") or cls.delivery_backoff_seconds),
            delivery_lease_seconds=float(env.get("ZJTX_DELIVERY_LEASE_SECONDS") or cls.delivery_lease_seconds),
            smtp_host=env.get("ZJTX_SMTP_HOST") or None,
            smtp_port=int(env.get("ZJTX_SMTP_PORT") or cls.smtp_port),
            smtp_security=env.get("ZJTX_SMTP_SECURITY") or cls.smtp_security,
            smtp_user=env.get("ZJTX_SMTP_USER") or None,
            smtp_password=env.get("ZJTX_SMTP_PASSWORD") or None,
            mail_sender=env.get("ZJTX_MAIL_SENDER") or cls.mail_sender,
            **_wecom(env),
            **_sms(env),
            base_url=env.get("ZJTX_BASE_URL") or cls.base_url,
            attachment_dir=Path(env.get("ZJTX_ATTACHMENT_DIR") or cls.attachment_dir),
            session_minutes=int(env.get("ZJTX_SESSION_MINUTES") or cls.session_minutes),
            log_format=env.get("ZJTX_LOG_FORMAT") or cls.log_format,
            script_cpu_seconds=float(env.get("ZJTX_SCRIPT_CPU_SECONDS") or cls.script_cpu_seconds),
            script_wall_seconds=float(env.get("ZJTX_SCRIPT_WALL_SECONDS") or cls.script_wall_seconds),
            script_memory_mb=int(env.get("ZJTX_SCRIPT_MEMORY_MB") or cls.script_memory_mb),
            script_workers=int(env.get("ZJTX_SCRIPT_WORKERS") or cls.script_workers),
            step_max_tasks=int(env.get("ZJTX_STEP_MAX_TASKS") or cls.step_max_tasks),
            step_max_seconds=float(env.get("ZJTX_STEP_MAX_SECONDS") or cls.step_max_seconds),
            step_max_attempts=int(env.get("ZJTX_STEP_MAX_ATTEMPTS") or cls.step_max_attempts),
        )
