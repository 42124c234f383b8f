"""Processes: definitions, versions, instances, the task projection, escalations, schedules, audit
records, incidents, comments and attachments."""
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.storage.models.base import Base, CompressedText, DistrictScoped, JSONType, UTCDateTime, utcnow
from engine.storage.models.org import Department, User

# The open statuses (engine.runtime.projection.OPEN_STATUSES) as the partial indexes of open tasks name them.
OPEN_INDEX_WHERE = "status IN ('to_sign', 'in_progress')"


class ProcessDefinition(DistrictScoped, Base):
    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("district_id", "key", name="uq_process_definition_district_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessVersion(DistrictScoped, Base):
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
    # The city's template version this one was made from (adopted, or edited from it): engine/repository/templates.py.
    derived_from_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_version.id"), nullable=True)
    definition: Mapped[ProcessDefinition] = relationship()


class ProcessInstance(DistrictScoped, Base):
    __tablename__ = "process_instance"
    __table_args__ = (UniqueConstraint("district_id", "business_key", name="uq_process_instance_district_business_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    business_key: Mapped[str] = mapped_column(String(64))
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


class HumanTask(DistrictScoped, Base):
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
        # A unit's open tasks (two statuses: no (department, status, …) index gives them in one order), by deadline
        # and by creation; the queries name the statuses literally (engine.runtime.projection.is_open), which is
        # how SQLite sees that such an index holds what they ask for.
        Index("ix_human_task_open_department_due", "department_id", "due_at", "id",
              postgresql_where=text(OPEN_INDEX_WHERE), sqlite_where=text(OPEN_INDEX_WHERE)),
        Index("ix_human_task_open_department_created", "department_id", "created_at", "id",
              postgresql_where=text(OPEN_INDEX_WHERE), sqlite_where=text(OPEN_INDEX_WHERE)),
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
    # The staff member (承办人) the department assigned the task to (task property assignee_from): only they,
    # and the department's liaison and head, may act on it; they alone are told of it.
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True, index=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    related_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    instance: Mapped[ProcessInstance] = relationship()
    department: Mapped[Department] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


class Escalation(DistrictScoped, Base):
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


class ProcessSchedule(DistrictScoped, Base):
    """A periodic process start (circulars, measure reports). ``next_run_at`` is what the tick queries."""

    __tablename__ = "process_schedule"
    __table_args__ = (UniqueConstraint("district_id", "name", name="uq_process_schedule_district_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    process_key: Mapped[str] = mapped_column(String(128))
    # "cron:<5 fields>" or "workday:<N>[:<months>][@HH:MM]" (the N-th working day of the month)
    rule: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditRecord(DistrictScoped, Base):
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


class Incident(DistrictScoped, Base):
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


class Comment(DistrictScoped, Base):
    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(DistrictScoped, Base):
    """A file attached to an item; the bytes live on disk under a name derived from their hash. Staff files
    name the uploading account (``user_id``); a file the enterprise sent through the portal names no account
    but the contact who sent it (``contact_id``)."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise_contact.id", ondelete="SET NULL"),
                                                   nullable=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
