"""Database tables. The schema itself is created by Alembic (``engine/storage/migrations``)."""
from __future__ import annotations

import zlib
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JSONType = JSON().with_variant(JSONB(), "postgresql")


class CompressedText(TypeDecorator):
    """Text stored zlib-compressed: an instance state (JSON, ~11 KB) takes ~2 KB. Values written as
    plain text (before compression was introduced) still read back unchanged."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else zlib.compress(value.encode("utf-8"), 3)

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, str):
            return value
        data = bytes(value)
        return data.decode("utf-8") if data[:1] == b"{" else zlib.decompress(data).decode("utf-8")


class UTCDateTime(TypeDecorator):
    """Stores naive UTC on every backend and returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    short_code: Mapped[str] = mapped_column(String(64), unique=True)
    leading_group_member: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    aliases: Mapped[list[DepartmentAlias]] = relationship(
        back_populates="department", cascade="all, delete-orphan", order_by="DepartmentAlias.id"
    )


class DepartmentAlias(Base):
    __tablename__ = "department_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"))
    department: Mapped[Department] = relationship(back_populates="aliases")


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    department: Mapped[Department] = relationship()
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
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


class MeasureUnit(Base):
    """A lead or responsible unit of a measure, kept with the name the policy uses."""

    __tablename__ = "measure_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_no: Mapped[int] = mapped_column(ForeignKey("measure.no", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # lead | responsible
    position: Mapped[int] = mapped_column(Integer)
    name_as_written: Mapped[str] = mapped_column(String(100))


class ProcessDefinition(Base):
    __tablename__ = "process_definition"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessVersion(Base):
    """An immutable deployed version: the parsed spec once, plus the source files and forms."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("definition_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Large columns are loaded only when used (running an instance, showing the diagram).
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    sources: Mapped[dict] = mapped_column(JSONType, deferred=True)
    forms: Mapped[dict] = mapped_column(JSONType, deferred=True)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set by an administrator: only a trusted version may run effect operations (engine/runtime/operations.py).
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    definition: Mapped[ProcessDefinition] = relationship()


class ProcessInstance(Base):
    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    business_key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Filterable facts named by the start form (x-subject / x-category): the enterprise, the category.
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # The department answerable for the item (a dispatch's lead unit), for the circular's figures.
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | completed | error
    item_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state_json: Mapped[str] = mapped_column(CompressedText)
    serializer_version: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    started_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Earliest moment a BPMN timer of this instance falls due (from waiting_events()); the
    # scheduler loads only instances whose moment has come.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # Failed timer/step runs in a row: each moves next_timer_at back (others go first); at the limit the
    # instance stops (status error) and an incident is opened (engine/monitoring/incidents.py).
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[ProcessVersion] = relationship()

    # Optimistic concurrency: every UPDATE checks and bumps the revision.
    __mapper_args__ = {"version_id_col": revision}


class HumanTask(Base):
    """Projection of one user task, written in the same transaction as the instance state.

    ``kind`` is ``bpmn`` for a SpiffWorkflow user task, ``supervision`` for a 督办 item that the
    escalation ladder opens for the leading-group office (no Spiff task behind it).
    """

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_department_status", "department_id", "status", "created_at"),
        # The inbox pages: each tab's order is an index order, so a page reads a page of rows.
        Index("ix_human_task_department_status_due", "department_id", "status", "due_at", "id"),
        Index("ix_human_task_department_status_completed", "department_id", "status", "completed_at", "id"),
        Index("ix_human_task_status_due", "status", "due_at"),
        Index("ix_human_task_instance_status", "instance_id", "status"),
        Index("ix_human_task_next_escalation", "next_escalation_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="bpmn")
    spiff_task_id: Mapped[str | None] = mapped_column(String(36), unique=True, nullable=True)
    bpmn_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    roles: Mapped[str] = mapped_column(String(200))  # comma separated
    form: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # see engine.runtime.projection
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline_confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    # The same step of the same department keeps its escalation state across re-created Spiff
    # tasks (e.g. a refused extension request) as long as the deadline stays the same.
    deadline_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    warn_before_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    supervise_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    related_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    instance: Mapped[ProcessInstance] = relationship()
    department: Mapped[Department] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


class Escalation(Base):
    """One firing of the ladder (1 预警, 2 催办, 3 督办). Unique per step, deadline and level."""

    __tablename__ = "escalation"
    __table_args__ = (
        UniqueConstraint("deadline_key", "due_at", "level", name="uq_escalation_once"),
        Index("ix_escalation_fired_at", "fired_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    deadline_key: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[int] = mapped_column(Integer)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients: Mapped[list] = mapped_column(JSONType)
    supervision_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)


class CalendarDay(Base):
    """An administrator's or an imported notice's day: a holiday, or a make-up working day."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    source: Mapped[str] = mapped_column(String(200))


class CalendarYear(Base):
    """A year whose State Council arrangement was imported: its results are confirmed."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ReferenceGeneration(Base):
    """How many times a kind of reference data (``org``, ``calendar``) has changed: caches check it."""

    __tablename__ = "reference_generation"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)


class ProcessSchedule(Base):
    """A periodic process start (circulars, measure reports). ``next_run_at`` is what the tick queries."""

    __tablename__ = "process_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    process_key: Mapped[str] = mapped_column(String(128))
    # "cron:<5 fields>" or "workday:<N>[:<months>][@HH:MM]" (the N-th working day of the month)
    rule: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class InboxMessage(Base):
    """The in-app channel: a message in a user's inbox."""

    __tablename__ = "inbox_message"
    __table_args__ = (Index("ix_inbox_user_read", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutboxMessage(Base):
    """A message for an external channel (email, webhook), written with the change that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # idempotency key
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    address: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NotificationPreference(Base):
    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)  # inbox | email | webhook
    enabled: Mapped[bool] = mapped_column(Boolean)


class WebhookEndpoint(Base):
    """A group robot or system that receives a department's notices (all departments when unset)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(16), default="json")  # json | wecom | dingtalk
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AuditRecord(Base):
    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_instance_at", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=True
    )
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    task_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    # Lets a record name a task row created in the same flush (the unit of work orders the inserts).
    task: Mapped[HumanTask | None] = relationship(foreign_keys=[task_id])


class Incident(Base):
    """Something the engine tried to do on its own that kept failing, for an administrator to resolve:
    a BPMN timer or step of an instance (``timer`` / ``step``), one start of a scheduled run
    (``schedule``), a notification that became a dead letter (``delivery``)."""

    __tablename__ = "incident"
    __table_args__ = (
        # The admin page: open incidents newest first. Partial, since PostgreSQL reads a composite index
        # starting with resolved_at in order only for "=", not for "IS NULL"; open ones are few anyway.
        Index("ix_incident_open_created", "created_at", "id", postgresql_where=text("resolved_at IS NULL"),
              sqlite_where=text("resolved_at IS NULL")),
        # The open incident of an instance.
        Index("ix_incident_instance_open", "instance_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # timer | step | schedule | delivery
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), nullable=True)
    # Schedules and outbox messages are not deleted today; if one ever is, its incidents stay readable.
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_schedule.id", ondelete="SET NULL"), nullable=True, index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL"), nullable=True, index=True)
    element: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the BPMN element id
    element_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str] = mapped_column(Text)  # the Chinese message a user may read
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # the original exception, for administrators
    data: Mapped[dict | None] = mapped_column(JSONType, nullable=True)  # e.g. a failed scheduled start's data
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)  # retried | cancelled | resolved


class LoginAttempt(Base):
    """Login attempts, for limiting password guessing per user name and per address."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"), Index("ix_login_attempt_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class ApiToken(Base):
    """A personal token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Comment(Base):
    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    """A file attached to an item; the bytes live on disk under a name derived from their hash."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enterprise(Base):
    """An enterprise in the registry (企业库), the candidate pool and the cultivation pool."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    registered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    in_district: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    independent_legal_person: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    industry: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    employees: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tier: Mapped[str] = mapped_column(String(20), default="none", index=True)
    tier_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    tier_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    in_pool: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    pool_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    pool_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    service_officer_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    years: Mapped[list[EnterpriseYear]] = relationship(cascade="all, delete-orphan", order_by="EnterpriseYear.year",
                                                      lazy="selectin")


class EnterpriseYear(Base):
    """One year's figures, in yuan."""

    __tablename__ = "enterprise_year"
    __table_args__ = (UniqueConstraint("enterprise_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float | None] = mapped_column(Float, nullable=True)
    rd_expense: Mapped[float | None] = mapped_column(Float, nullable=True)
    net_profit: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_assets: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_liabilities: Mapped[float | None] = mapped_column(Float, nullable=True)


class EnterpriseChange(Base):
    """Who changed what in an enterprise's record, field by field."""

    __tablename__ = "enterprise_change"
    __table_args__ = (Index("ix_enterprise_change_enterprise", "enterprise_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(32))  # form | import | admission
    changes: Mapped[dict] = mapped_column(JSONType)


class Circular(Base):
    """A circular (通报). Once published it is never changed: figures and text are kept as issued."""

    __tablename__ = "circular"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)  # draft | published
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    figures: Mapped[dict] = mapped_column(JSONType)
    text: Mapped[str] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MeasureReport(Base):
    """A measure's progress report and 区经济信息委's assessment for one period."""

    __tablename__ = "measure_report"
    __table_args__ = (UniqueConstraint("measure_no", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_no: Mapped[int] = mapped_column(ForeignKey("measure.no"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date, index=True)
    lead_department: Mapped[str] = mapped_column(String(100))
    lead_is_written: Mapped[bool] = mapped_column(Boolean, default=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    contributions: Mapped[list] = mapped_column(JSONType, default=list)
    assessment: Mapped[str | None] = mapped_column(String(16), nullable=True)  # 已完成 | 推进中 | 滞后
    assessment_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    follow_up: Mapped[str | None] = mapped_column(Text, nullable=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
