"""Writing notifications in the transaction of the change that caused them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.storage.models import InboxMessage, NotificationPreference, OutboxMessage, User, WebhookEndpoint

CHANNELS = ("inbox", "email", "webhook")
CHANNEL_LABELS = {"inbox": "站内消息", "email": "电子邮件", "webhook": "群机器人/Webhook"}


@dataclass
class Notice:
    """What to say. ``key`` makes every message derived from it idempotent (``key:channel:target``)."""

    key: str
    template: str
    context: dict
    link: str | None = None
    data: dict = field(default_factory=dict)  # machine-readable part of webhook payloads


class Notifier:
    def __init__(self, email_enabled: bool):
        self.email_enabled = email_enabled
        self.templates = Environment(loader=PackageLoader("notifications", "templates"),
                                     undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)

    def render(self, template: str, context: dict) -> tuple[str, str]:
        text = self.templates.get_template(f"{template}.txt").render(**context)
        subject, _, body = text.partition("\n")
        return subject.strip(), body.strip() + "\n"

    def notify(self, session: Session, notice: Notice, users: list[User], department_id: int | None,
               now: datetime) -> list[dict]:
        """Queue ``notice`` for ``users`` (by their preferences) and the department's webhooks.

        Returns the recipients as ``[{"channel": …, "to": …}]`` for the record.
        """
        subject, body = self.render(notice.template, {**notice.context, "link": notice.link or ""})
        disabled = set()
        if users:
            disabled = set(session.execute(
                select(NotificationPreference.user_id, NotificationPreference.channel).where(
                    NotificationPreference.user_id.in_([u.id for u in users]),
                    NotificationPreference.enabled.is_(False))).all())
        recipients = []
        for user in users:
            if (user.id, "inbox") not in disabled:
                session.add(InboxMessage(key=f"{notice.key}:inbox:{user.id}", user_id=user.id, title=subject,
                                         body=body, link=notice.link, created_at=now))
                recipients.append({"channel": "inbox", "to": user.username})
            if self.email_enabled and user.email and (user.id, "email") not in disabled:
                session.add(OutboxMessage(key=f"{notice.key}:email:{user.id}", channel="email", user_id=user.id,
                                          address=user.email, subject=subject, body=body, status="pending",
                                          attempts=0, next_attempt_at=now, created_at=now))
                recipients.append({"channel": "email", "to": user.email})
        endpoints = session.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.enabled.is_(True),
            or_(WebhookEndpoint.department_id.is_(None), WebhookEndpoint.department_id == department_id)))
        for endpoint in endpoints:
            session.add(OutboxMessage(
                key=f"{notice.key}:webhook:{endpoint.id}", channel="webhook", address=endpoint.url,
                subject=subject, body=body, status="pending", attempts=0, next_attempt_at=now, created_at=now,
                payload={"format": endpoint.format, "link": notice.link, "data": notice.data}))
            recipients.append({"channel": "webhook", "to": endpoint.name})
        return recipients


def set_preference(session: Session, user_id: int, channel: str, enabled: bool) -> None:
    if channel not in CHANNELS:
        raise ValueError(channel)
    pref = session.get(NotificationPreference, (user_id, channel))
    if pref is None:
        session.add(NotificationPreference(user_id=user_id, channel=channel, enabled=enabled))
    else:
        pref.enabled = enabled
