"""Making a time-slot request and choosing one of its proposals: what the JSON API and the office pages share.

Both answer the same way; only the form differs (JSON and status codes there, flash messages and redirects
on the pages), so the rules live here once; so do the reads both show (a request, the lists, the settings)
and the template editor's demo data of the slot mails. The prospect's page is in starter.services.slot_answers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.app_settings import save_section
from db.base import utcnow
from db.models import Activity, Appointment, Contact, InboundMail, Property, SlotProposal, SlotRequest, User
from db.session import SessionFactory
from db.slot_store import (
    SETTINGS_KEY,
    NewSlotRequest,
    SlotSettings,
    create_slot_request,
    load_slot_settings,
)
from messaging.slot_mail import SlotData, SlotMailComposer, slot_text
from settings import Settings
from starter.services.context import Services
from starter.services.office_choices import office_choices
from starter.services.showcase import sample_agent, sample_property
from starter.services.visibility import check_property_visible
from starter.temporal.slots import ensure_slot_workflow, slot_handle
from workflows.slot_models import ChooseSlot
from workflows.slot_request import TimeSlotRequestWorkflow

log = logging.getLogger(__name__)

# The choice answers once the appointment exists and the confirmation is out; a slow SMTP server
# should not hold the agent's request: after this long the answer is "pending" and the workflow goes on.
CHOOSE_WAIT_SECONDS = 15.0
# Accepting is the validator on a worker: milliseconds when one runs; past this none does.
ACCEPT_TIMEOUT_SECONDS = 10.0
NO_WORKER = "Der Workflow-Dienst antwortet gerade nicht. Bitte in einer Minute erneut versuchen."
CHOICE_REJECTIONS = {"InvalidSlot": 422, "SlotPassed": 409, "AlreadyChosen": 409, "NotChoosable": 409}
CLOSED = "Die Terminanfrage ist abgeschlossen; es kann kein Termin mehr gewählt werden"


@dataclass(frozen=True)
class MailReply:
    """A prospect's mail about the request (a reply to its mails, or from its contact while it waited)."""

    inbound_mail_id: int
    received_at: datetime
    sender: str | None
    subject: str | None
    text: str | None


async def mail_replies(services: Services, request_id: int) -> list[MailReply]:
    """Oldest first, as a conversation reads."""
    async with services.sessions() as session:
        rows = await session.execute(
            select(InboundMail, Activity.text)
            .outerjoin(Activity, Activity.id == InboundMail.activity_id)
            .where(InboundMail.slot_request_id == request_id)
            .order_by(InboundMail.id)
        )
        return [
            MailReply(
                inbound_mail_id=mail.id,
                received_at=mail.created_at,
                sender=mail.sender,
                subject=mail.subject,
                text=text,
            )
            for mail, text in rows.all()
        ]


@dataclass(frozen=True)
class Created:
    request_id: int
    workflow_started: bool


async def make_request(services: Services, data: NewSlotRequest, now: datetime) -> Created:
    """Store the request with its `slot_request.created` event, then start `slots-<id>`.

    Raises SlotRequestError (with the HTTP status) for a request that cannot be made. When Temporal is
    down the request stays stored and the dispatcher starts its workflow from the event.
    """
    async with services.sessions.begin() as session:
        row = await create_slot_request(session, data, now=now)
        prop = await session.get(Property, row.property_id) if row.property_id else None
        ref = prop.external_ref if prop else None
    started = False
    try:
        client = await services.temporal()
        started = await ensure_slot_workflow(
            client, request_id=row.id, task_queue=services.settings.task_queue, property_ref=ref
        )
    except (RPCError, RuntimeError) as exc:
        log.warning("slot request %s stored, workflow not started yet: %s", row.id, exc)
    return Created(request_id=row.id, workflow_started=started)


class ChoiceRefusedError(Exception):
    """The workflow refused the choice; STATUS is what the API answers, the message is for the agent."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def choose(services: Services, request_id: int, choice: ChooseSlot) -> bool:
    """The agent picks one proposal; True once the appointment and confirmation are done, False while pending.

    Raises ChoiceRefusedError when the workflow refuses (unknown slot, passed, already chosen, closed).
    """
    client = await services.temporal()
    try:
        async with asyncio.timeout(ACCEPT_TIMEOUT_SECONDS):
            update = await slot_handle(client, request_id).start_update(
                TimeSlotRequestWorkflow.choose, choice, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:  # the SDK turns the cancel into this
        raise ChoiceRefusedError(503, NO_WORKER) from exc
    except WorkflowUpdateFailedError as exc:
        raise _refused(exc) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise ChoiceRefusedError(409, CLOSED) from exc
    try:
        await asyncio.wait_for(update.result(), timeout=CHOOSE_WAIT_SECONDS)
    except WorkflowUpdateFailedError as exc:
        raise _refused(exc) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise ChoiceRefusedError(409, CLOSED) from exc
    except TimeoutError:
        return False
    return True


def _refused(exc: WorkflowUpdateFailedError) -> ChoiceRefusedError:
    cause = exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(exc)
    return ChoiceRefusedError(CHOICE_REJECTIONS.get(kind or "", 409), message)


# --- the office's requests: reading, making, settings (the JSON API and the office pages call these) -------


class SlotRequestNotFoundError(LookupError):
    """No time-slot request with this id; answered as 404."""


@dataclass(frozen=True)
class SlotRequestView:
    row: SlotRequest
    proposals: list[SlotProposal]


async def _proposals(session: AsyncSession, request_id: int) -> list[SlotProposal]:
    query = select(SlotProposal).where(SlotProposal.request_id == request_id).order_by(SlotProposal.position)
    return list(await session.scalars(query))


async def show_request(services: Services, request_id: int) -> SlotRequestView:
    """One request with its proposals; SlotRequestNotFoundError for an unknown id."""
    async with services.sessions() as session:
        row = await session.get(SlotRequest, request_id)
        if row is None:
            raise SlotRequestNotFoundError(f"Terminanfrage {request_id} existiert nicht")
        return SlotRequestView(row, await _proposals(session, row.id))


async def find_requests(
    services: Services,
    *,
    visible: ColumnElement[bool],
    contact_id: int | None = None,
    property_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[SlotRequestView]:
    """The newest requests the caller may see (VISIBLE: a condition on SlotRequest), filtered."""
    query = select(SlotRequest).where(visible).order_by(SlotRequest.id.desc()).limit(limit)
    if contact_id is not None:
        query = query.where(SlotRequest.contact_id == contact_id)
    if property_id is not None:
        query = query.where(SlotRequest.property_id == property_id)
    if status is not None:
        query = query.where(SlotRequest.status == status)
    async with services.sessions() as session:
        return [SlotRequestView(row, await _proposals(session, row.id)) for row in await session.scalars(query)]


async def request_slots(
    services: Services, data: NewSlotRequest, now: datetime, visible: ColumnElement[bool] | None = None
) -> Created:
    """make_request for a caller who may not see every property (VISIBLE: their condition on Property, None:
    sees all): a hidden property raises PropertyHiddenError and stores nothing."""
    async with services.sessions() as session:
        await check_property_visible(session, data.property_id, visible)
    return await make_request(services, data, now)


async def slot_settings(services: Services) -> SlotSettings:
    """The time-slot settings (page texts, validity, who answers placeholder requests)."""
    async with services.sessions() as session:
        return await load_slot_settings(session)


async def save_slot_settings(services: Services, config: SlotSettings) -> None:
    """Store the settings: page texts apply at once, the validity to requests made after the change."""
    async with services.sessions.begin() as session:
        await save_section(session, SETTINGS_KEY, config)


# The office list is recent work, not an archive: the newest this many requests.
LIST_LIMIT = 200


@dataclass(frozen=True)
class SlotListing:
    rows: list[tuple[SlotRequest, Contact, Property | None]]
    chosen: dict[int, SlotProposal]
    choices: dict[str, Any]


async def request_listing(
    services: Services, *, visible: ColumnElement[bool], choices_visible: ColumnElement[bool]
) -> SlotListing:
    """The office list: the newest requests the caller may see (VISIBLE: a condition on SlotRequest) with
    contact, property and the chosen proposal, and the form's choices (CHOICES_VISIBLE: on Property)."""
    async with services.sessions() as session:
        found = (
            await session.execute(
                select(SlotRequest, Contact, Property)
                .join(Contact, Contact.id == SlotRequest.contact_id)
                .outerjoin(Property, Property.id == SlotRequest.property_id)
                .where(visible)
                .order_by(SlotRequest.id.desc())
                .limit(LIST_LIMIT)
            )
        ).all()
        rows: list[tuple[SlotRequest, Contact, Property | None]] = [
            (row, contact, prop) for row, contact, prop in found
        ]
        # The list says when, not "Vorschlag 2": the chosen proposal of every scheduled row, in one query.
        chosen_ids = [row.id for row, _, _ in rows if row.chosen_position is not None]
        chosen = {
            proposal.request_id: proposal
            for proposal in await session.scalars(select(SlotProposal).where(SlotProposal.request_id.in_(chosen_ids)))
            if any(r.id == proposal.request_id and r.chosen_position == proposal.position for r, _, _ in rows)
        }
        return SlotListing(rows, chosen, await office_choices(session, choices_visible))


@dataclass(frozen=True)
class SlotRequestPage:
    """A request as the office's detail page shows it, with the names of whoever its answer reached."""

    row: SlotRequest
    contact: Contact | None
    property: Property | None
    recipient: User | None
    proposals: list[SlotProposal]
    appointment: Appointment | None
    user_names: dict[int, str]
    contact_names: dict[int, str]


async def request_page(services: Services, request_id: int) -> SlotRequestPage:
    """One request with its people, proposals and appointment; SlotRequestNotFoundError for an unknown id."""
    async with services.sessions() as session:
        row = await session.get(SlotRequest, request_id)
        if row is None:
            raise SlotRequestNotFoundError(f"Terminanfrage {request_id} existiert nicht")
        user_ids = {d.get("user_id") for d in row.deliveries if d.get("user_id")}
        contact_ids = {d.get("contact_id") for d in row.deliveries if d.get("contact_id")}
        names = (await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))).all()
        people = await session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))
        return SlotRequestPage(
            row=row,
            contact=await session.get(Contact, row.contact_id),
            property=await session.get(Property, row.property_id) if row.property_id else None,
            recipient=await session.get(User, row.recipient_user_id) if row.recipient_user_id else None,
            proposals=await _proposals(session, row.id),
            appointment=await session.get(Appointment, row.appointment_id) if row.appointment_id else None,
            user_names={user_id: name for user_id, name in names},
            contact_names={person.id: person.display_name for person in people},
        )


# --- the template editor's preview of the time-slot mails -----------------------------------------------


def template_demo_context(key: str, settings: Settings, sessions: SessionFactory) -> dict[str, Any] | None:
    """Demo variables of the time-slot mail template KEY (`slots.*`) for the template editor's live preview,
    built with the composer's own context builder; None for a key of another family."""
    if not key.startswith("slots."):
        return None
    agent, prop = sample_agent(), sample_property()
    contact = Contact(
        id=1, salutation="Frau", first_name="Nina", last_name="Neu", email="nina.neu@example.com", mobile="+49 151 2222"
    )
    start = (utcnow() + timedelta(days=3)).replace(hour=14, minute=0, second=0, microsecond=0)
    proposals = [
        SlotProposal(position=n, starts_at=start + timedelta(days=n), ends_at=start + timedelta(days=n, hours=1))
        for n in range(1, 4)
    ]
    request = SlotRequest(
        id=4711,
        contact_id=1,
        property_id=1,
        recipient_user_id=1,
        link_nonce="BEISPIEL",
        expires_at=utcnow() + timedelta(days=14),
        comment="Am liebsten nachmittags.",
    )
    composer = SlotMailComposer(sessions, settings)
    context = composer.context(SlotData(request, contact, prop, agent, proposals))
    context["time_slot_link"] = f"{settings.public_base_url}/slots/BEISPIEL"
    context["recipient"] = {"name": agent.name}
    context["fallback_note"] = "SMS nicht möglich: keine SMS-Berechtigung" if key == "slots.response" else ""
    first = proposals[0]
    context["appointment"] = {"text": slot_text(first.starts_at, first.ends_at, composer.zone)}
    return context
