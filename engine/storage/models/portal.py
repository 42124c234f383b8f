"""企业端 (issue 19): an enterprise's own account in the registry, its contact persons, their one-time sign-in
codes and the service officer's invitations.

One account per enterprise (``enterprise_id`` unique; a refused registration's row is reused by the next
one). A contact signs in with a code sent to a channel of theirs that is verified (the invitation came by it,
or the service officer confirmed the registration that gave it), or with a password of their own. Codes and
invitation tokens are stored only as keyed hashes. Sessions end when the contact's or the account's
``session_generation`` moves (sign-out, a new password, the account disabled)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, UTCDateTime, utcnow


class EnterpriseAccount(DistrictScoped, Base):
    __tablename__ = "enterprise_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), unique=True)
    # pending (self-registered, waiting for the service officer) | active | disabled | refused
    status: Mapped[str] = mapped_column(String(16), index=True)
    origin: Mapped[str] = mapped_column(String(16))  # invitation | registration
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)


class EnterpriseContact(DistrictScoped, Base):
    """A person who speaks for the enterprise. Sign-in looks them up by mobile or email (indexed)."""

    __tablename__ = "enterprise_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("enterprise_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    mobile_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnterpriseLoginCode(DistrictScoped, Base):
    """A one-time code sent to a contact: read by contact (the newest, and the rate limit) and by address."""

    __tablename__ = "enterprise_login_code"
    __table_args__ = (Index("ix_enterprise_login_code_contact_at", "contact_id", "created_at"),
                      Index("ix_enterprise_login_code_ip_at", "ip", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("enterprise_contact.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms
    code_hash: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class EnterpriseInvitation(DistrictScoped, Base):
    """A service officer's invitation: one row per channel it was sent by (``group_key`` ties them; accepting
    one uses them all). Found by the token's hash."""

    __tablename__ = "enterprise_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    group_key: Mapped[str] = mapped_column(String(32), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # the one this row's link went by: email | sms
    invited_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
