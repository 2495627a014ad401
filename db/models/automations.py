"""Trigger → action automations (seed 003): the rules the office defines, and every run of one."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class RunOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CUT = "cut"  # not started: the event came out of too long a chain of automations (loop guard)
    STOPPED = "stopped"  # ended early with a reason (the contact objected, or the workflow was cancelled)


class AutomationRule(CreatedAtMixin, Base):
    """One "when X happens, do Y" rule; conditions and actions are validated JSON (see activities.automation_*)."""

    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(60), index=True)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    builtin_key: Mapped[str | None] = mapped_column(
        String(60), unique=True, comment="Set on the rules immoflow ships; seeding finds them by it."
    )
    updated_at: Mapped[datetime | None]


class AutomationRun(Base):
    """One rule run on one event. Unique per (rule, event): a redelivered event finds the row it made."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("rule_id", "event_id"),
        Index("ix_automation_runs_rule_started", "rule_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    # No foreign key: the outbox may be pruned of old events while the run history stays.
    event_id: Mapped[int]
    event_depth: Mapped[int] = mapped_column(default=0)
    trigger: Mapped[str] = mapped_column(String(60))
    workflow_id: Mapped[str | None] = mapped_column(String(200), comment="None when the run was never started.")
    outcome: Mapped[str] = mapped_column(String(20), default=RunOutcome.RUNNING, index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="The event fields the conditions saw.")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(default=list, comment="Snapshot of the rule's actions.")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(default=list, comment="Per action: outcome and detail.")
    error: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[str | None] = mapped_column(Text)


class BirthdayGreeting(CreatedAtMixin, Base):
    """The daily scan's bookkeeping: one `birthday` event per contact and year, however often the scan runs."""

    __tablename__ = "birthday_greetings"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(comment="The (local) day the scan greeted on.")
    event_id: Mapped[int]
