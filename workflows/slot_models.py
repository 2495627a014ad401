"""The time-slot request's contract (seed 001): workflow input, updates, snapshot, activity inputs, slot rules.

Only IDs, states and times travel through Temporal; names, emails, phone numbers and the prospect's
comment stay in the database (the comment in the raw submission).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain.slot_routing import Delivery, ResponseType

MAX_SLOTS = 5
SLOT_PURPOSE = "slots"  # LinkSigner purpose: a time-slot token is no confirmation token


def slot_workflow_id(request_id: int) -> str:
    """slots-<request id>: the business key, so the dispatcher and the API can both start it safely."""
    return f"slots-{request_id}"


class SlotState(StrEnum):
    """Mirrors db.models.SlotRequestStatus (kept apart: workflows never import the database layer)."""

    CREATED = "created"
    WAITING = "waiting"
    ANSWERED = "answered"
    SCHEDULED = "scheduled"
    EXPIRED = "expired"
    FAILED = "failed"


class ProposedSlot(BaseModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class SlotProblem(BaseModel):
    """A rule a proposal breaks; POSITION is the 1-based row on the form (None: the whole proposal)."""

    position: int | None
    message: str


def slot_problems(slots: list[ProposedSlot], now: datetime) -> list[SlotProblem]:
    """Seed 001's form rules: 1 to 5 slots, each in the future, ending after it starts, none overlapping.

    Pure, so the page and the workflow's update validator judge a proposal exactly alike.
    """
    problems: list[SlotProblem] = []
    if not slots:
        problems.append(SlotProblem(position=None, message="Bitte schlagen Sie mindestens einen Termin vor."))
    if len(slots) > MAX_SLOTS:
        problems.append(SlotProblem(position=None, message=f"Bitte höchstens {MAX_SLOTS} Termine vorschlagen."))
    for position, slot in enumerate(slots, start=1):
        if slot.ends_at <= slot.starts_at:
            problems.append(SlotProblem(position=position, message="Das Ende muss nach dem Beginn liegen."))
        elif slot.starts_at <= now:
            problems.append(SlotProblem(position=position, message="Der Termin liegt in der Vergangenheit."))
    valid = [(position, slot) for position, slot in enumerate(slots, start=1) if slot.ends_at > slot.starts_at]
    overlapping = sorted(
        {
            later
            for index, (_, first) in enumerate(valid)
            for later, second in valid[index + 1 :]
            if first.starts_at < second.ends_at and second.starts_at < first.ends_at
        }
    )
    problems.extend(
        SlotProblem(position=position, message="Der Termin überschneidet sich mit einem anderen Vorschlag.")
        for position in overlapping
    )
    return problems


class SlotRequestInput(BaseModel):
    request_id: int


class SlotRequestInfo(BaseModel):
    """The request as the workflow needs it (activity result): no personal data."""

    request_id: int
    status: SlotState
    expires_at: datetime
    response_types: list[ResponseType]
    has_property: bool
    send_invitation: bool
    link_nonce: str


class SlotAnswer(BaseModel):
    """Sent by /slots/{token} after it stored the raw form as SUBMISSION_ID (which also holds the comment)."""

    nonce: str = Field(min_length=8, max_length=64)
    submission_id: int
    slots: list[ProposedSlot] = Field(min_length=1, max_length=MAX_SLOTS)


class ChooseSlot(BaseModel):
    """The agent picks proposal POSITION (1-based); USER_ID, when given, owns the appointment."""

    position: int = Field(ge=1, le=MAX_SLOTS)
    user_id: int | None = None


class SlotSnapshot(BaseModel):
    request_id: int
    state: SlotState
    reason: str | None = None
    expires_at: datetime | None = None
    slots: list[ProposedSlot] = Field(default_factory=list)
    deliveries: list[Delivery] = Field(default_factory=list)
    chosen_position: int | None = None
    appointment_id: int | None = None


class StatusRecord(BaseModel):
    request_id: int
    state: SlotState
    reason: str | None = None
    deliveries: list[Delivery] | None = None


class AnswerRecord(BaseModel):
    request_id: int
    submission_id: int
    slots: list[ProposedSlot]
    answered_at: datetime


MailKind = Literal["invitation", "response", "confirmation", "sms"]


class SlotMailRequest(BaseModel):
    """Compose one message of the request into the outbox (activity input)."""

    request_id: int
    kind: MailKind
    idempotency_key: str
    delivery: Delivery | None = None
    appointment_id: int | None = None


class TaskRequest(BaseModel):
    request_id: int
    user_id: int
    idempotency_key: str


class AppointmentRequest(BaseModel):
    request_id: int
    position: int
    user_id: int | None = None
    idempotency_key: str
