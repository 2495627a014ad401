"""The inquiry manager's contract: configuration snapshot, workflow input, updates, queries.

Only IDs and states travel through Temporal; names, emails and addresses stay in the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints


class InquiryState(StrEnum):
    """Mirrors db.models.InquiryStatus (kept apart: workflows never import the database layer)."""

    PROCESSING = "processing"
    IGNORED = "ignored"
    SKIPPED = "skipped"
    WAITING_FOR_CONFIRMATION = "waiting_for_confirmation"
    COMPLETED = "completed"
    ABORTED = "aborted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ExceptionField(StrEnum):
    PORTAL = "portal"
    PROPERTY = "property"
    EMAIL_DOMAIN = "email_domain"
    MAILBOX = "mailbox"


class ExceptionAction(StrEnum):
    NO_AUTOMATION = "no_automation"
    ADDRESS_ONLY = "address_only"


# Bounds of the office's settings, checked on every write (API and page; documented in README).
# Trimmed first, then measured: " " is an empty value, not a value of length 1.
MIN_FOLLOWUP_INTERVAL = timedelta(seconds=1)  # seconds-scale chains stay possible for development and tests
PRODUCTION_MIN_FOLLOWUP_INTERVAL = timedelta(hours=1)  # a real prospect never gets reminders minutes apart
MAX_FOLLOWUP_INTERVAL = timedelta(days=365)  # times 11 attempts still fits every date computation
MAX_FOLLOWUP_ATTEMPTS = 10
MAX_DUPLICATE_REVIEW_WINDOW = timedelta(days=365)
MAX_STOP_ACTIVITY_KINDS = 20
MAX_EXCEPTIONS = 100

Trimmed = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ActivityKind = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]


class ExceptionRule(BaseModel):
    """A configured exception of the inquiry manager (seed 002): when FIELD equals VALUE, do ACTION."""

    id: Annotated[Trimmed, Field(max_length=64)]
    label: Annotated[Trimmed, Field(max_length=200)]
    field: ExceptionField
    value: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=320)]
    action: ExceptionAction


DuplicateCheck = Literal["email", "name_zip", "off"]
FinalNotice = Literal["task", "email", "none"]


class InquiryManagerConfig(BaseModel):
    """Everything the office can switch (seeds 002 and 000). Intervals: ISO 8601 ("P2D") or seconds."""

    confirmation_enabled: bool = True
    duplicate_check: DuplicateCheck = "name_zip"
    task_on_duplicate: bool = True
    send_expose: bool = True
    followup_interval: timedelta = Field(default=timedelta(days=2), ge=MIN_FOLLOWUP_INTERVAL, le=MAX_FOLLOWUP_INTERVAL)
    followup_attempts: int = Field(default=2, ge=0, le=MAX_FOLLOWUP_ATTEMPTS)
    final_notice: FinalNotice = "task"
    stop_activity_kinds: list[ActivityKind] = Field(
        default_factory=lambda: ["absage", "zusage", "warteliste"], max_length=MAX_STOP_ACTIVITY_KINDS
    )
    duplicate_review_window: timedelta = Field(
        default=timedelta(days=14), ge=timedelta(0), le=MAX_DUPLICATE_REVIEW_WINDOW
    )
    exceptions: list[ExceptionRule] = Field(default_factory=list, max_length=MAX_EXCEPTIONS)

    @property
    def confirmation_window(self) -> timedelta:
        """How long a confirmation link can be used: until the follow-up process gives up."""
        return self.followup_interval * (self.followup_attempts + 1)


class InquiryInput(BaseModel):
    inquiry_id: int


class Assessment(BaseModel):
    """What the intake checks found (activity result): IDs and reasons, no personal data."""

    property_ok: bool
    property_reason: str | None = None
    property_id: int | None = None
    property_ref: str | None = None
    exception: ExceptionRule | None = None
    existing_contact_id: int | None = None
    pending_inquiry_workflow_id: str | None = Field(
        None, description="An earlier inquiry of the same prospect that still waits for confirmation."
    )


class ConfirmationInput(BaseModel):
    """Sent by the /confirm form after it stored the submitted data as raw payload SUBMISSION_ID."""

    nonce: str = Field(min_length=8, max_length=64)
    submission_id: int


class CancelInput(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    user_id: int | None = None


class MailReaction(BaseModel):
    """The prospect answered one of our mails (reply) or it came back undeliverable (bounce); issue 15."""

    kind: Literal["reply", "bounce"]
    inbound_mail_id: int
    reason: str = Field(max_length=300)


class PrimaryOutcome(BaseModel):
    """Sent from a primary inquiry to the later inquiries of the same prospect that wait on it."""

    state: InquiryState
    contact_id: int | None = None


class LinkIssue(BaseModel):
    """A confirmation link the workflow handed out: its nonce and until when it may be used."""

    nonce: str
    issued_at: datetime
    valid_until: datetime


class InquirySnapshot(BaseModel):
    """Answer of the `snapshot` query: what the workflow is doing right now."""

    inquiry_id: int
    state: InquiryState
    reason: str | None = None
    reminders_sent: int = 0
    next_step: str | None = None
    next_step_at: datetime | None = None
    contact_id: int | None = None
    duplicate_contact_id: int | None = None


class StepRecord(BaseModel):
    """One line of the inquiry's timeline and the status it leaves the inquiry in (activity input)."""

    inquiry_id: int
    key: str
    state: InquiryState
    title: str
    detail: str | None = None
    reason: str | None = None
    next_step: str | None = None
    next_step_at: datetime | None = None
    contact_id: int | None = None
    duplicate_contact_id: int | None = None
    property_id: int | None = None
    timeline: bool = Field(True, description="False: only the current status changes (e.g. next due time).")


# `steps`: what the workflow did since its last database write travels with its next activity, which records it
# before its own work (issue 19: one write per step of work instead of one activity per status).
EARLIER_STEPS = "Steps taken since the last write: recorded first, in this order."


class MailRequest(BaseModel):
    """Compose one of the inquiry manager's mails into the outbox (activity input)."""

    inquiry_id: int
    steps: list[StepRecord] = Field(default_factory=list, description=EARLIER_STEPS)
    after: list[StepRecord] = Field(default_factory=list, description="Recorded once the mail went out.")
    widerruf_check: bool = Field(False, description="An exposé: not before the Widerruf period, if one applies.")
    kind: Literal["confirmation", "followup", "expose", "manager_notice"]
    idempotency_key: str
    attempt: int | None = None
    contact_id: int | None = None
    link_nonce: str | None = None
    link_valid_until: datetime | None = None


class AddressResult(BaseModel):
    contact_id: int | None = None
    duplicate_contact_id: int | None = None
    duplicate_reason: str | None = None


class MailOutcome(BaseModel):
    """What sending one mail did: the outbox row it went out as, or until when the exposé must wait."""

    message_id: int | None = None
    wait_until: datetime | None = None


class TaskRequest(BaseModel):
    inquiry_id: int
    steps: list[StepRecord] = Field(default_factory=list, description=EARLIER_STEPS)
    kind: Literal["duplicate", "no_reaction"]
    idempotency_key: str
    duplicate_contact_id: int | None = None
    attempts: int = 0


class StopCheck(BaseModel):
    inquiry_id: int
    steps: list[StepRecord] = Field(default_factory=list, description=EARLIER_STEPS)
    kinds: list[str]
    since: datetime


def workflow_id_for(source: str, external_id: str) -> str:
    """inquiry-<source>-<external id>: the business key, so a repeated intake is not a second process."""
    return f"inquiry-{source}-{external_id}"


class AssessRequest(BaseModel):
    inquiry_id: int
    exceptions: list[ExceptionRule] = Field(default_factory=list)


class AddressRequest(BaseModel):
    """Create the prospect's address record from the confirmed form (SUBMISSION_ID) or the inquiry's data."""

    inquiry_id: int
    steps: list[StepRecord] = Field(default_factory=list, description=EARLIER_STEPS)
    submission_id: int | None = None
    duplicate_check: DuplicateCheck = "name_zip"
    force: bool = Field(False, description="An agent said: not a duplicate, create it anyway.")


class StopFound(BaseModel):
    kind: str
    occurred_at: datetime


class StepBatch(BaseModel):
    """Steps to record when no activity of the workflow's own follows before it waits or ends."""

    inquiry_id: int
    steps: list[StepRecord]


class Preparation(BaseModel):
    """The first activity's answer: the settings snapshot and what the intake checks found."""

    config: InquiryManagerConfig
    assessment: Assessment


class ReminderRequest(BaseModel):
    """Look for a stop activity; only when there is none, compose the reminder (not yet sent)."""

    check: StopCheck
    mail: MailRequest


class ReminderDraft(BaseModel):
    stop: StopFound | None = None
    message_id: int | None = None
