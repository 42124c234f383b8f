"""What an item (a problem-dispatch instance) is linked to beyond its form data: the registry
enterprise, the policy measures it concerns, and the reference another system (a 12345 work order)
gave it. Written in the transaction that registers the item; ``master_instance_id`` when the triage merges
the item into another (engine/policy/dispatch/merging.py)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models.base import Base, DistrictScoped


class ItemLink(DistrictScoped, Base):
    """One row per linked item. ``external_source``/``external_ref``: unique together, so a system that
    sends the same work order twice gets the item it created the first time (idempotent intake).
    ``master_instance_id``: the item this one was merged into as a duplicate (合并件随主件办理); indexed, so
    the master's completion finds its merged items without reading any other item."""

    __tablename__ = "item_link"
    __table_args__ = (UniqueConstraint("district_id", "external_source", "external_ref", name="uq_item_link_external"),)

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"),
                                             primary_key=True, autoincrement=False)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    external_source: Mapped[str | None] = mapped_column(String(32), nullable=True)
    external_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    master_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="SET NULL"),
                                                           nullable=True, index=True)


class ItemMeasure(DistrictScoped, Base):
    """A measure (of the policy's 30) an item concerns."""

    __tablename__ = "item_measure"
    __table_args__ = (Index("ix_item_measure_measure", "measure_no", "instance_id"),)

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"),
                                             primary_key=True, autoincrement=False)
    measure_no: Mapped[int] = mapped_column(Integer, ForeignKey("measure.no"), primary_key=True,
                                            autoincrement=False)
