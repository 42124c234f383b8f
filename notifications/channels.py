"""The external channels. Each ``send`` raises DeliveryError on failure; nothing here touches the database."""
from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from engine.storage.models import OutboxMessage


class DeliveryError(Exception):
    pass


class EmailChannel:
    def __init__(self, host: str, port: int, security: str, sender: str, user: str | None = None,
                 password: str | None = None, timeout: float = 10.0):
        self.host, self.port, self.security = host, port, security
        self.sender, self.user, self.password, self.timeout = sender, user, password, timeout

    def build(self, message: OutboxMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = formataddr(("黔江区专精特新培育工作系统", self.sender))
        mail["To"] = message.address
        # Receivers (and our tests) can drop a redelivered message by its idempotency key.
        mail["Message-ID"] = make_msgid(idstring=message.key.replace(":", "."), domain="zjtx.local")
        mail["X-ZJTX-Key"] = message.key
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: OutboxMessage) -> None:
        try:
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password or "")
                client.send_message(self.build(message))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"邮件发送失败：{type(exc).__name__}: {exc}") from exc


def webhook_body(message: OutboxMessage) -> dict:
    payload = message.payload or {}
    fmt = payload.get("format", "json")
    text = f"{message.subject}\n{message.body}"
    if fmt in ("wecom", "dingtalk"):
        return {"msgtype": "text", "text": {"content": text}}
    return {"key": message.key, "subject": message.subject, "body": message.body,
            "link": payload.get("link"), "data": payload.get("data") or {}}


class WebhookChannel:
    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    def send(self, message: OutboxMessage) -> None:
        if not message.address.startswith(("http://", "https://")):
            raise DeliveryError(f"Webhook 地址无效：{message.address}")
        body = json.dumps(webhook_body(message), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(message.address, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"Webhook 返回 HTTP {exc.code}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"Webhook 无法连接：{exc}") from exc
        if (message.payload or {}).get("format") in ("wecom", "dingtalk"):
            # Group robots answer 200 with an error code in the body.
            try:
                code = json.loads(answer or b"{}").get("errcode", 0)
            except ValueError:
                code = 0
            if code:
                raise DeliveryError(f"群机器人返回错误码 {code}")
