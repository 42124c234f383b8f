"""Pauses of a task's clock (挂起): a department waits for the enterprise to supply something.

One row per pause. It is open while ``resumed_at`` is NULL and its task is open; the task's ladder is
stopped meanwhile (``human_task.next_escalation_at`` is NULL). ``check_at`` is the moment an open pause
reaches its limit of working days (the scheduler flags it then, ``over_limit_at``); NULL once flagged or
resumed, so the scheduler finds due pauses by an index, never by scanning. The pauses of a department's
step are counted by ``deadline_key`` (the step keeps its key across re-created tasks).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, UTCDateTime


class TaskPause(DistrictScoped, Base):
    __tablename__ = "task_pause"
    __table_args__ = (
        Index("ix_task_pause_task_resumed", "task_id", "resumed_at"),
        Index("ix_task_pause_deadline_key", "deadline_key", "id"),
        Index("ix_task_pause_department_paused", "department_id", "paused_at"),
        Index("ix_task_pause_paused_at", "paused_at"),
        Index("ix_task_pause_check_at", "check_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    deadline_key: Mapped[str] = mapped_column(String(200))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_by: Mapped[str] = mapped_column(String(64))  # a user name, as audit records keep it
    reason: Mapped[str] = mapped_column(Text)
    expected_resume_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # a Beijing date
    limit_days: Mapped[int] = mapped_column(Integer)  # the most working days the deadline may move
    due_at_paused: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the deadline then
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    over_limit_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resumed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resume_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    working_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # paused, as counted at resume
    credited_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the deadline moved by
    due_at_resumed: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the deadline after
