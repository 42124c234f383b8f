"""The organisation: departments (with aliases), users and roles, the 30 measures and their units, logins and API tokens."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.storage import district
from engine.storage.models.base import Base, DistrictScoped, UTCDateTime, utcnow


class District(Base):
    """A district or county (区县) of the deployment: its units, users, enterprises and procedures are its own
    (docs/districts.md). ``code``: the administrative division code (500114 黔江区)."""

    __tablename__ = "district"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(8))  # 区 | 县
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


FIRST_DISTRICT = district.FIRST_DISTRICT


class Department(DistrictScoped, Base):
    __tablename__ = "department"
    # A district's own units: two districts may each have a 区经济信息委 of their own.
    __table_args__ = (UniqueConstraint("district_id", "name", name="uq_department_district_name"),
                      UniqueConstraint("district_id", "short_code", name="uq_department_district_short_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True, default=district.row_default,
                                             server_default=str(FIRST_DISTRICT))
    name: Mapped[str] = mapped_column(String(100))
    short_code: Mapped[str] = mapped_column(String(64))
    leading_group_member: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    aliases: Mapped[list[DepartmentAlias]] = relationship(
        back_populates="department", cascade="all, delete-orphan", order_by="DepartmentAlias.id"
    )


class DepartmentAlias(DistrictScoped, Base):
    __tablename__ = "department_alias"
    __table_args__ = (UniqueConstraint("district_id", "alias", name="uq_department_alias_district_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"))
    department: Mapped[Department] = relationship(back_populates="aliases")


class User(DistrictScoped, Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # A mainland mobile number (11 digits): one may log in with it, so no two users share one.
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True, index=True)
    # The user's 企业微信/政务微信 UserID: work notices go to it as application messages (channel wecom).
    wecom_userid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sessions carry the generation they were signed in under; logout, a password change and an
    # administrator's "sign out everywhere" bump it, which ends every session signed in before.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Failed logins before this moment no longer slow the user down (an administrator's 解除登录限制).
    login_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    department: Mapped[Department] = relationship()
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(DistrictScoped, Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class Measure(Base):
    __tablename__ = "measure"

    no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    section: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    units: Mapped[list[MeasureUnit]] = relationship(
        cascade="all, delete-orphan", order_by="MeasureUnit.position", lazy="selectin"
    )


class MeasureUnit(DistrictScoped, Base):
    """A lead or responsible unit of a measure, kept with the name the policy uses."""

    __tablename__ = "measure_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_no: Mapped[int] = mapped_column(ForeignKey("measure.no", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # lead | responsible
    position: Mapped[int] = mapped_column(Integer)
    name_as_written: Mapped[str] = mapped_column(String(100))


class LoginAttempt(Base):
    """Login attempts, for limiting password guessing per user name and per address."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"), Index("ix_login_attempt_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class ApiToken(DistrictScoped, Base):
    """A personal token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
