"""The lead workflow's contract: configuration snapshot, carried state, signals, queries, activity I/O.

Only IDs, instants and the office's own labels (phase names) travel through Temporal; the lead's title,
contact and the lead taker's address stay in the database and are loaded by the reminder activity.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, Field

# Signal names: the dispatcher signals-with-start by name, so they are part of the contract.
SIGNAL_PHASE_CHANGED = "phase_changed"
SIGNAL_APPOINTMENT_CREATED = "appointment_created"
SIGNAL_TASK_CREATED = "task_created"
SIGNAL_CLOSED = "closed"
SIGNAL_CONFIG_CHANGED = "config_changed"
QUERY_STATUS = "status"

# How many recent event ids a lead remembers to ignore redelivered events. The dispatcher redelivers
# within minutes (backoff ≤ 10 min); a lead never sees hundreds of events in that time.
DEDUPE_WINDOW = 256


def lead_workflow_id(lead_id: int) -> str:
    """lead-<id>: the business key, so a redelivered `lead.created` is not a second process."""
    return f"lead-{lead_id}"


def reminder_key(lead_id: int, episode: int, number: int) -> str:
    """The outbox idempotency key: one mail per lead, overdue episode and reminder number, ever."""
    return f"lead:{lead_id}:episode:{episode}:reminder:{number}"


class PhaseConfig(BaseModel):
    id: int
    name: str
    position: int
    duration: timedelta | None = Field(None, description="None: the phase is never overdue.")


class LeadConfig(BaseModel):
    """The sales process and the office's send time as the workflow last loaded them."""

    process_id: int
    phases: list[PhaseConfig]
    reminders_enabled: bool
    reminder_interval: timedelta = Field(gt=timedelta(0))
    reminder_time_utc: time = time(7, 0)

    def phase(self, phase_id: int | None) -> PhaseConfig | None:
        return next((phase for phase in self.phases if phase.id == phase_id), None)


LeadDbStatus = Literal["open", "closed", "missing"]


class LeadSnapshot(BaseModel):
    """What `load_lead_snapshot` returns: the lead's phase and hold from the database, and its config."""

    lead_id: int
    status: LeadDbStatus
    phase_id: int | None = None
    phase_entered_at: datetime | None = None
    hold_until: datetime | None = None
    config: LeadConfig | None = None


class Episode(BaseModel):
    """One overdue period: from the instant the lead became overdue until a resolution or close."""

    number: int
    clock_start: datetime
    overdue_since: datetime
    first_reminder_at: datetime | None = Field(None, description="Fixed once reminder 1 went out.")
    reminders_done: int = Field(0, description="Highest reminder number sent (or passed over).")
    last_reminder_at: datetime | None = None


class LeadState(BaseModel):
    """Everything the workflow knows; carried across continue-as-new."""

    lead_id: int
    phase_id: int | None = None
    phase_entered_at: datetime | None = None
    hold_until: datetime | None = None
    config: LeadConfig | None = None
    reload_requested: bool = True
    closed: bool = False
    outcome: Literal["closed", "missing"] | None = None
    episodes: int = 0
    episode: Episode | None = None
    reminders_total: int = 0
    events_applied: int = 0
    seen_event_ids: list[int] = Field(default_factory=list)
    run_number: int = 1


class RunLimits(BaseModel):
    """Continue-as-new after this much work in one run (or when Temporal suggests it), whichever first.

    A lead lives for months: a few hundred events keep each run's history far below Temporal's limits
    and its replay cheap. Tests lower them to exercise the hand-over.
    """

    events_per_run: int = Field(500, ge=1)
    reminders_per_run: int = Field(100, ge=1)
    steps_per_run: int = Field(1000, ge=1)


class LeadInput(BaseModel):
    lead_id: int
    state: LeadState | None = None
    limits: RunLimits = Field(default_factory=RunLimits)


class LeadResult(BaseModel):
    lead_id: int
    outcome: Literal["closed", "missing"]
    episodes: int
    reminders_sent: int


# --- signals: every one carries the domain event id so a redelivered event is ignored -----------------


class LeadSignal(BaseModel):
    event_id: int


class PhaseChanged(LeadSignal):
    phase_id: int
    phase_entered_at: datetime


class AppointmentCreated(LeadSignal):
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


class TaskCreated(LeadSignal):
    task_id: int
    due_at: datetime | None = None
    created_at: datetime


class LeadClosed(LeadSignal):
    closed_at: datetime | None = None


class ConfigChanged(LeadSignal):
    process_id: int


# --- query and activity I/O ------------------------------------------------------------------------------


class LeadStatus(BaseModel):
    """Answer of the `status` query."""

    lead_id: int
    phase_id: int | None
    phase_name: str | None
    overdue: bool
    overdue_since: datetime | None
    overdue_at: datetime | None = Field(None, description="When the lead becomes overdue (if not yet).")
    next_reminder_at: datetime | None
    episode: int | None
    reminders_in_episode: int
    reminders_total: int
    events_applied: int
    run_number: int
    closed: bool


class ReminderRequest(BaseModel):
    """Compose reminder NUMBER of EPISODE into the outbox (the workflow's view, checked against the DB)."""

    lead_id: int
    episode: int
    number: int
    idempotency_key: str
    phase_id: int
    phase_entered_at: datetime
    clock_start: datetime
    overdue_since: datetime
    due_at: datetime


class ReminderComposed(BaseModel):
    message_id: int | None = None
    skipped: str | None = Field(None, description="Why no mail was composed (lead moved on meanwhile).")
