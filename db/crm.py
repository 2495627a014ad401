"""CRM operations shared by activities: contacts with duplicate check, idempotent tasks, journal lookups.

Plain async functions on a session: the caller owns the transaction, so a change and its domain event
commit together.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.events import AppointmentCreated, ContactCreated, TaskCreated, record_event
from db.models import Activity, Appointment, Contact, ContactStatus, Inquiry, Task

DuplicateMode = Literal["email", "name_zip", "off"]


class ProspectAddress(BaseModel):
    """An address record as the prospect confirmed it (what the duplicate check needs is required)."""

    salutation: str | None = Field(None, max_length=40)
    first_name: str | None = Field(None, max_length=120)
    last_name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=320)
    phone: str | None = Field(None, max_length=40)
    street: str | None = Field(None, max_length=200)
    zip_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    birthday: date | None = None
    newsletter: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.lower()
        local, _, domain = value.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in value):
            raise ValueError("keine gültige E-Mail-Adresse")
        return value


class ConfirmedAddress(ProspectAddress):
    """What the confirmation form insists on: enough for the duplicate check by name and zip code."""

    first_name: str = Field(min_length=1, max_length=120)
    zip_code: str = Field(min_length=4, max_length=10, pattern=r"^[0-9A-Za-z -]+$")
    city: str = Field(min_length=1, max_length=120)


class DuplicateMatch(BaseModel):
    contact_id: int
    reason: str


def created_for_inquiry_source(automation_source: str, inquiry_id: int) -> str:
    """`source` of a contact an automation created from inquiry INQUIRY_ID: that inquiry's own prospect."""
    return f"{automation_source}:inquiry:{inquiry_id}"


def created_for_inquiry(inquiry_id: int) -> ColumnElement[bool]:
    """Contacts an automation created from this very inquiry (see created_for_inquiry_source)."""
    return Contact.source.like(f"automation:%:inquiry:{inquiry_id}")


async def find_duplicate(session: AsyncSession, address: ProspectAddress, mode: DuplicateMode) -> DuplicateMatch | None:
    """The existing, not archived contact this address duplicates under MODE, if any."""
    if mode == "off":
        return None
    active = Contact.status != ContactStatus.ARCHIVED
    by_email = await session.scalar(
        select(Contact.id).where(active, Contact.email == address.email).order_by(Contact.id).limit(1)
    )
    if by_email is not None:
        return DuplicateMatch(contact_id=by_email, reason=f"E-Mail-Adresse bereits bei Kontakt #{by_email}")
    if mode == "name_zip" and address.first_name and address.zip_code:
        by_name = await session.scalar(
            select(Contact.id)
            .where(
                active,
                func.lower(Contact.first_name) == address.first_name.lower(),
                func.lower(Contact.last_name) == address.last_name.lower(),
                Contact.zip_code == address.zip_code,
            )
            .order_by(Contact.id)
            .limit(1)
        )
        if by_name is not None:
            return DuplicateMatch(contact_id=by_name, reason=f"Name und PLZ stimmen mit Kontakt #{by_name} überein")
    return None


async def create_contact(
    session: AsyncSession,
    address: ProspectAddress,
    *,
    source: str,
    owner_user_id: int | None = None,
    status: str = ContactStatus.PROSPECT,
    event_depth: int = 0,
) -> Contact:
    """Insert the contact and its `contact.created` event in the caller's transaction."""
    contact = Contact(
        salutation=address.salutation,
        first_name=address.first_name,
        last_name=address.last_name,
        email=address.email,
        phone=address.phone,
        street=address.street,
        zip_code=address.zip_code,
        city=address.city,
        birthday=address.birthday,
        newsletter=address.newsletter,
        status=status,
        owner_user_id=owner_user_id,
        source=source,
    )
    session.add(contact)
    await session.flush()
    record_event(
        session,
        ContactCreated(contact_id=contact.id, source=source, created_by_automation=source.startswith("automation")),
        depth=event_depth,
    )
    return contact


async def create_task_once(
    session: AsyncSession,
    *,
    idempotency_key: str,
    title: str,
    body: str | None,
    assignee_user_id: int | None,
    contact_id: int | None = None,
    property_id: int | None = None,
    inquiry_id: int | None = None,
    lead_id: int | None = None,
    due_at: datetime | None = None,
) -> Task:
    """A task exists at most once per key: a retried activity finds the first one."""
    existing = await session.scalar(select(Task).where(Task.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    task = Task(
        idempotency_key=idempotency_key,
        title=title[:300],
        body=body,
        assignee_user_id=assignee_user_id,
        contact_id=contact_id,
        property_id=property_id,
        inquiry_id=inquiry_id,
        lead_id=lead_id,
        due_at=due_at,
    )
    session.add(task)
    await session.flush()
    record_event(
        session,
        TaskCreated(
            task_id=task.id,
            lead_id=lead_id,
            inquiry_id=inquiry_id,
            assignee_user_id=assignee_user_id,
            due_at=due_at,
            created_at=task.created_at,
        ),
    )
    return task


async def latest_stop_activity(
    session: AsyncSession, inquiry: Inquiry, kinds: list[str], since: datetime
) -> Activity | None:
    """The newest journal entry of KINDS since SINCE for this inquiry's prospect (seed 000's filter).

    Before the prospect confirmed, there is no address record yet: entries linked to the inquiry count,
    and so do entries on any contact with the inquiry's email address.
    """
    contact_ids = select(Contact.id).where(Contact.email == inquiry.email.lower())
    query = (
        select(Activity)
        .where(
            Activity.kind.in_(kinds),
            Activity.occurred_at >= since,
            (Activity.inquiry_id == inquiry.id) | Activity.contact_id.in_(contact_ids),
        )
        .order_by(Activity.occurred_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def add_appointment(
    session: AsyncSession, appointment: Appointment, *, depth: int = 0, slot_request_id: int | None = None
) -> Appointment:
    """Insert APPOINTMENT with its `appointment.created` event in the caller's transaction."""
    session.add(appointment)
    await session.flush()
    event = AppointmentCreated(
        appointment_id=appointment.id,
        lead_id=appointment.lead_id,
        contact_id=appointment.contact_id,
        property_id=appointment.property_id,
        user_id=appointment.user_id,
        kind=appointment.kind,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        created_at=appointment.created_at,
        **({"slot_request_id": slot_request_id} if slot_request_id is not None else {}),
    )
    record_event(session, event, depth=depth)
    return appointment
