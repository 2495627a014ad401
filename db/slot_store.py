"""Creating time-slot requests (API, office UI, the `{{ time_slot_link }}` placeholder) and signing their links.

A request row and its `slot_request.created` event commit together; the API starts the workflow at once,
the dispatcher guarantees it when Temporal was down at that moment (`slots-<id>` makes both safe).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.app_settings import load_section
from db.base import utcnow
from db.events import SlotRequestCreated, record_event
from db.models import Contact, Property, PropertyContactPerson, SlotRequest, SlotRequestStatus, User
from domain.instants import BoundedInstant
from domain.links import LinkSigner
from domain.slot_routing import RecipientKind, ResponseType
from settings import Settings
from workflows.slot_models import SLOT_PURPOSE, slot_workflow_id

log = logging.getLogger(__name__)

SETTINGS_KEY = "time_slots"
CREATED_EVENT = SlotRequestCreated.KIND
TIME_SLOT_PLACEHOLDER = "time_slot_link"
MAX_VALIDITY = timedelta(days=365)

VIEWING_TEXT = (
    "Sie möchten die Immobilie besichtigen? Schlagen Sie uns bis zu fünf Termine vor, die Ihnen passen. "
    "Wir bestätigen Ihnen einen davon per E-Mail."
)
GENERAL_TEXT = (
    "Wann passt es Ihnen? Schlagen Sie uns bis zu fünf Termine vor. Wir bestätigen Ihnen einen davon per E-Mail."
)


class SlotSettings(BaseModel):
    """The office's settings section `time_slots` (seed 001: the texts are configurable)."""

    viewing_text: str = Field(VIEWING_TEXT, min_length=1, max_length=4000, description="Text of the viewing page.")
    general_text: str = Field(GENERAL_TEXT, min_length=1, max_length=4000, description="Text of the general page.")
    default_validity: timedelta = Field(
        timedelta(days=14), gt=timedelta(0), le=MAX_VALIDITY, description="How long a link is valid by default."
    )
    placeholder_recipient: Literal["manager", "contact_person"] = Field(
        "manager",
        description="Who answers requests made by {{ time_slot_link }}: the property's manager (a user) "
        "or its contact person; the other one is used when the preferred one does not exist.",
    )
    placeholder_response_types: list[ResponseType] = Field(
        default_factory=lambda: [ResponseType.EMAIL, ResponseType.TASK], min_length=1
    )

    @field_validator("placeholder_response_types")
    @classmethod
    def _unique(cls, value: list[ResponseType]) -> list[ResponseType]:
        return list(dict.fromkeys(value))


class NewSlotRequest(BaseModel):
    """What POST /api/slot-requests accepts."""

    contact_id: int
    property_id: int | None = None
    recipient: RecipientKind = Field(description="user, or contact_person (the property's first contact person).")
    recipient_user_id: int | None = Field(None, description="Required when recipient is user.")
    response_types: list[ResponseType] = Field(min_length=1, max_length=3, description="Any of email, task, sms.")
    expires_at: BoundedInstant | None = Field(None, description="Default: now + the configured validity.")
    created_by_user_id: int | None = None

    @field_validator("response_types")
    @classmethod
    def _unique(cls, value: list[ResponseType]) -> list[ResponseType]:
        if len(set(value)) != len(value):
            raise ValueError("each response type at most once")
        return value


class SlotRequestError(ValueError):
    """A request that cannot be made; STATUS is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def load_slot_settings(session: AsyncSession) -> SlotSettings:
    return await load_section(session, SETTINGS_KEY, SlotSettings)


async def first_contact_person(session: AsyncSession, property_id: int) -> Contact | None:
    """Seed 001: the first entry of category "contact person" on the property."""
    return await session.scalar(
        select(Contact)
        .join(PropertyContactPerson, PropertyContactPerson.contact_id == Contact.id)
        .where(PropertyContactPerson.property_id == property_id)
        .order_by(PropertyContactPerson.position, Contact.id)
        .limit(1)
    )


async def _check(session: AsyncSession, new: NewSlotRequest, *, needs_email: bool) -> None:
    contact = await session.get(Contact, new.contact_id)
    if contact is None:
        raise SlotRequestError(404, f"Kontakt {new.contact_id} existiert nicht")
    if needs_email and not contact.email:
        raise SlotRequestError(422, "Der Kontakt hat keine E-Mail-Adresse: der Link kann nicht gesendet werden")
    if new.created_by_user_id is not None and await session.get(User, new.created_by_user_id) is None:
        raise SlotRequestError(422, f"Benutzer {new.created_by_user_id} (created_by_user_id) existiert nicht")
    if new.property_id is not None and await session.get(Property, new.property_id) is None:
        raise SlotRequestError(404, f"Immobilie {new.property_id} existiert nicht")
    if new.recipient == RecipientKind.USER:
        if new.recipient_user_id is None:
            raise SlotRequestError(422, "recipient_user_id fehlt: Empfänger ist ein Benutzer")
        user = await session.get(User, new.recipient_user_id)
        if user is None or not user.is_active:
            raise SlotRequestError(422, f"Benutzer {new.recipient_user_id} existiert nicht oder ist inaktiv")
    else:
        if new.recipient_user_id is not None:
            raise SlotRequestError(422, "recipient_user_id nur für den Empfänger user")
        if new.property_id is None:
            raise SlotRequestError(422, "Ansprechpartner als Empfänger braucht eine Immobilie")
        if await first_contact_person(session, new.property_id) is None:
            raise SlotRequestError(422, "Die Immobilie hat keinen Ansprechpartner")


async def create_slot_request(
    session: AsyncSession,
    new: NewSlotRequest,
    *,
    now: datetime | None = None,
    send_invitation: bool = True,
    origin_key: str | None = None,
    inquiry_id: int | None = None,
) -> SlotRequest:
    """Insert the request and its `slot_request.created` event in the caller's transaction.

    ORIGIN_KEY makes it idempotent for callers that retry (a mail composed again finds the same request).
    """
    if origin_key is not None:
        existing = await session.scalar(select(SlotRequest).where(SlotRequest.origin_key == origin_key))
        if existing is not None:
            return existing
    now = now or utcnow()
    await _check(session, new, needs_email=send_invitation)
    expires_at = new.expires_at or now + (await load_slot_settings(session)).default_validity
    if expires_at <= now:
        raise SlotRequestError(422, "expires_at liegt nicht in der Zukunft")
    request = SlotRequest(
        contact_id=new.contact_id,
        property_id=new.property_id,
        recipient_kind=new.recipient.value,
        recipient_user_id=new.recipient_user_id,
        response_types=[kind.value for kind in new.response_types],
        status=SlotRequestStatus.CREATED,
        expires_at=expires_at,
        link_nonce=secrets.token_urlsafe(18),
        send_invitation=send_invitation,
        origin_key=origin_key,
        inquiry_id=inquiry_id,
        created_by_user_id=new.created_by_user_id,
        deliveries=[],
        updated_at=now,
    )
    session.add(request)
    await session.flush()
    request.workflow_id = slot_workflow_id(request.id)
    record_event(session, SlotRequestCreated(slot_request_id=request.id, workflow_id=request.workflow_id))
    return request


def slot_link(settings: Settings, request: SlotRequest) -> str:
    """The prospect's link: signed, bound to the request's workflow and nonce, valid until the expiry."""
    token = LinkSigner(settings.effective_secret_key()).sign(
        SLOT_PURPOSE,
        workflow_id=slot_workflow_id(request.id),
        nonce=request.link_nonce,
        expires_at=request.expires_at,
    )
    return f"{settings.public_base_url}/slots/{token}"


def uses_time_slot_link(*sources: str) -> bool:
    """Whether a template mentions the placeholder: only then is a request made (and a workflow started)."""
    return any(TIME_SLOT_PLACEHOLDER in source for source in sources)


async def time_slot_link(
    session: AsyncSession,
    settings: Settings,
    *,
    contact_id: int | None,
    property_id: int | None,
    origin_key: str,
    inquiry_id: int | None = None,
) -> str:
    """`{{ time_slot_link }}` for a mail to CONTACT_ID: a request (made once per ORIGIN_KEY) and its link.

    The mail itself carries the link, so the request's workflow sends no invitation of its own. Returns ""
    when no request can be made (no address record yet, nobody to answer to): the mail still goes out.
    """
    if contact_id is None:
        log.warning("%s: no contact yet, {{ time_slot_link }} left empty", origin_key)
        return ""
    existing = await session.scalar(select(SlotRequest).where(SlotRequest.origin_key == origin_key))
    if existing is not None:
        return slot_link(settings, existing)
    config = await load_slot_settings(session)
    prop = await session.get(Property, property_id) if property_id is not None else None
    manager = prop.manager_user_id if prop is not None else None
    has_contact_person = prop is not None and await first_contact_person(session, prop.id) is not None
    options: list[tuple[RecipientKind, int | None]] = []
    if manager is not None:
        options.append((RecipientKind.USER, manager))
    if has_contact_person:
        options.append((RecipientKind.CONTACT_PERSON, None))
    if config.placeholder_recipient == "contact_person":
        options.reverse()
    if not options:
        log.warning("%s: nobody to answer to, {{ time_slot_link }} left empty", origin_key)
        return ""
    kind, user_id = options[0]
    new = NewSlotRequest(
        contact_id=contact_id,
        property_id=property_id,
        recipient=kind,
        recipient_user_id=user_id,
        response_types=config.placeholder_response_types,
    )
    try:
        request = await create_slot_request(
            session, new, send_invitation=False, origin_key=origin_key, inquiry_id=inquiry_id
        )
    except SlotRequestError as exc:  # e.g. an inactive manager: the mail matters more than the link
        log.warning("%s: no time-slot request (%s), {{ time_slot_link }} left empty", origin_key, exc)
        return ""
    return slot_link(settings, request)
