"""联席会议 (joint meetings): one row per meeting (its own joint_meeting instance), numbered per year when its
minutes are recorded (〔2026〕第3次, (year, seq) unique), with its agenda, attendance and topics; and its
decisions, each dispatched as a problem item (``item_id``, unique: an item comes from one decision), so the
item page finds its meeting through the decision and the archive page finds the items' states."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped, JSONType, UTCDateTime
from engine.storage.models.processes import HumanTask


class JointMeeting(DistrictScoped, Base):
    __tablename__ = "joint_meeting"
    __table_args__ = (UniqueConstraint("district_id", "year", "seq", name="uq_joint_meeting_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    # preparing (agenda built) | approved (agenda approved) | held (minutes recorded)
    status: Mapped[str] = mapped_column(String(16), index=True)
    agenda: Mapped[list] = mapped_column(JSONType)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    held_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    place: Mapped[str | None] = mapped_column(String(200), nullable=True)
    chair: Mapped[str | None] = mapped_column(String(100), nullable=True)
    attendance: Mapped[list | None] = mapped_column(JSONType, nullable=True)
    topics: Mapped[list | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MeetingDecision(DistrictScoped, Base):
    __tablename__ = "joint_meeting_decision"
    __table_args__ = (Index("ix_joint_meeting_decision_meeting", "meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("joint_meeting.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    enterprise_name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(8))
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    due_date: Mapped[date] = mapped_column(Date)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), nullable=True, unique=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# The agenda's queries by step: the open rulings (remit_ruling, consultation, leader_ruling) and the ratings.
Index("ix_human_task_bpmn_status", HumanTask.bpmn_id, HumanTask.status)
