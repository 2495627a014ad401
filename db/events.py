"""Domain events: one typed model per kind, written into the outbox inside the caller's transaction.

Every writer builds one of these models, so an event's shape is declared once and read here. The stored
payload is the model's JSON with instants as ISO text (`datetime.isoformat()`), exactly as readers (the
dispatcher's handlers, automation triggers, workflows' signals) have always received it; events already
stored keep parsing with `parse_event`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import DomainEvent

# ISO text with the offset as Python writes it (+00:00), the form stored events have always had.
Instant = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str)]


class Event(BaseModel):
    """A domain event's payload. KIND is what the dispatcher routes by and what the row's `kind` says."""

    model_config = ConfigDict(frozen=True, extra="allow")  # extra: fields later versions add stay readable

    KIND: ClassVar[str]


class ContactCreated(Event):
    KIND = "contact.created"
    contact_id: int
    source: str
    created_by_automation: bool


class ActivityCreated(Event):
    """A journal entry (cancellation with its reason, viewing, call, …)."""

    KIND = "activity.created"
    activity_id: int
    kind: str
    reason: str | None
    contact_id: int | None
    property_id: int | None
    inquiry_id: int | None


class NoteCreated(Event):
    KIND = "note.created"
    note_id: int
    contact_id: int | None
    property_id: int | None


class DealCreated(Event):
    KIND = "deal.created"
    deal_id: int
    stage: str
    contact_id: int | None
    property_id: int | None


class DealStageChanged(Event):
    KIND = "deal.stage_changed"
    deal_id: int
    stage: str
    previous_stage: str | None
    contact_id: int | None
    property_id: int | None


class TaskCreated(Event):
    """A task for a person: of a lead (lead API), an inquiry (review, no reaction) or neither (automations)."""

    KIND = "task.created"
    task_id: int
    lead_id: int | None = None
    inquiry_id: int | None = None
    contact_id: int | None = None
    property_id: int | None = None
    assignee_user_id: int | None
    due_at: Instant | None
    created_at: Instant


class AppointmentCreated(Event):
    """Lead workflows and automations both read it, so it is complete."""

    KIND = "appointment.created"
    appointment_id: int
    lead_id: int | None
    contact_id: int | None
    property_id: int | None
    user_id: int | None
    kind: str
    starts_at: Instant
    ends_at: Instant
    created_at: Instant
    slot_request_id: int | None = None  # the time-slot request the appointment was chosen from


class InquiryReceived(Event):
    KIND = "inquiry.received"
    inquiry_id: int
    source: str
    property_ref: str | None
    mailbox: str | None
    workflow_id: str


class SlotRequestCreated(Event):
    KIND = "slot_request.created"
    slot_request_id: int
    workflow_id: str


class Birthday(Event):
    """Written by the daily scan once per contact and year."""

    KIND = "birthday"
    contact_id: int
    year: int
    day: date


class SalesProcessChanged(Event):
    KIND = "sales_process.changed"
    process_id: int
    created: bool
    lead_ids: list[int]


class LeadCreated(Event):
    KIND = "lead.created"
    lead_id: int
    process_id: int
    phase_id: int
    phase_entered_at: Instant


class LeadPhaseChanged(Event):
    KIND = "lead.phase_changed"
    lead_id: int
    phase_id: int
    previous_phase_id: int | None
    phase_entered_at: Instant


class PasswordLinkIssued(Event):
    """An invitation or reset mail is in the outbox; its workflow delivers it."""

    KIND = "user.password_link"
    user_id: int
    message_id: int


class ConsentRequested(Event):
    """An advertising consent waits for its double opt-in mail."""

    KIND = "consent.requested"
    consent_id: int


class ContactObjected(Event):
    """The prospect objected (one click or the page): their follow-ups stop with that reason."""

    KIND = "contact.objected"
    objection_id: int
    scope: str
    inquiry_workflow_ids: list[str]


class MailReaction(Event):
    """A prospect answered one of our mails (reply, bounce): the inquiry's follow-ups stop (issue 15)."""

    KIND = "inquiry.mail_reaction"
    inquiry_id: int
    workflow_id: str
    kind: str
    inbound_mail_id: int
    activity_id: int | None
    reason: str


class MailReplyReceived(Event):
    """A prospect's reply, with everything it was matched to: inquiry, open leads, a time-slot request.

    Written once per reply with its journal entry. Automations start on it ("Antwort per E-Mail"); a
    lead hears of it through the lead-linked task written in the same transaction (`task.created`).
    """

    KIND = "mail.reply_received"
    inbound_mail_id: int
    activity_id: int
    mailbox: str
    contact_id: int | None
    inquiry_id: int | None
    lead_ids: list[int]
    slot_request_id: int | None


class MailboxChanged(Event):
    """A mailbox was created or edited: its watcher workflow starts (or learns it is off)."""

    KIND = "mailbox.changed"
    mailbox_id: int
    enabled: bool


class LeadClosed(Event):
    KIND = "lead.closed"
    lead_id: int
    closed_at: Instant


CATALOGUE: dict[str, type[Event]] = {
    model.KIND: model
    for model in (
        ContactCreated,
        ActivityCreated,
        NoteCreated,
        DealCreated,
        DealStageChanged,
        TaskCreated,
        AppointmentCreated,
        InquiryReceived,
        SlotRequestCreated,
        Birthday,
        SalesProcessChanged,
        LeadCreated,
        LeadPhaseChanged,
        LeadClosed,
        PasswordLinkIssued,
        ConsentRequested,
        ContactObjected,
        MailReaction,
        MailReplyReceived,
        MailboxChanged,
    )
}


def record_event(session: AsyncSession, event: Event, *, depth: int = 0) -> DomainEvent:
    """Add the event to the session: it commits or rolls back together with the change it describes."""
    # exclude_unset: an optional field a writer did not name stays out, as it always has.
    row = DomainEvent(kind=event.KIND, payload=event.model_dump(mode="json", exclude_unset=True), depth=depth)
    session.add(row)
    return row


def parse_event(row: DomainEvent) -> Event:
    """A stored event as its model (KeyError for a kind this version does not know)."""
    payload: dict[str, Any] = dict(row.payload)
    return CATALOGUE[row.kind].model_validate(payload)
