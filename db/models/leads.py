"""Sales processes with timed phases, and the leads that move through them (seed 004)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, CreatedAtMixin


class SalesProcess(CreatedAtMixin, Base):
    __tablename__ = "sales_processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    reminder_interval: Mapped[int] = mapped_column(default=1)
    reminder_unit: Mapped[str] = mapped_column(String(10), default="weeks", comment="hours | days | weeks")

    phases: Mapped[list[SalesPhase]] = relationship(
        order_by="SalesPhase.position", cascade="all, delete-orphan", lazy="selectin"
    )


class SalesPhase(Base):
    __tablename__ = "sales_phases"
    __table_args__ = (UniqueConstraint("process_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("sales_processes.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(120))
    duration_seconds: Mapped[int | None] = mapped_column(comment="None: the phase is never overdue.")


class Lead(CreatedAtMixin, Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    process_id: Mapped[int] = mapped_column(ForeignKey("sales_processes.id"))
    phase_id: Mapped[int] = mapped_column(ForeignKey("sales_phases.id"))
    phase_entered_at: Mapped[datetime]
    taker_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="open", comment="open | closed")
    closed_at: Mapped[datetime | None]
