"""Contacts as the office works with them: search, everything known about one, edit, archive.

A contact's page gathers what the CRM holds about the person: the journal (activities and notes), the
mails sent to them, their inquiries (by contact, as a duplicate, or by e-mail address before they became
a contact), leads, time-slot requests, tasks and appointments. The functions taking a session leave the
transaction to their caller; the use cases below them (taking `Services`) open their own, for the web
handlers, which never hold a session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import crm_writes
from db.base import utcnow
from db.models import (
    Activity,
    ActivityKind,
    Appointment,
    Contact,
    ContactStatus,
    Deal,
    Inquiry,
    Lead,
    Message,
    Note,
    Property,
    PropertyContactPerson,
    SlotRequest,
    Task,
    User,
)
from starter.intake.payload import normalise_email
from starter.services.context import Services

STATUS_LABELS = {
    ContactStatus.PROSPECT: "Interessent",
    ContactStatus.CUSTOMER: "Kunde",
    ContactStatus.OWNER: "Eigentümer",
    ContactStatus.AGENT: "Makler/Benutzer",
    ContactStatus.ARCHIVED: "Archiviert",
}
PAGE_SIZE = 50
SECTION_LIMIT = 200  # per section of a contact's page; more is a case for the lists and their filters


class ContactError(ValueError):
    pass


class ContactNotFoundError(ContactError):
    """The contact the caller names does not exist."""


class ContactUpdate(BaseModel):
    """The contact form (and PUT /api/contacts/{id}); `source` and the user link are not the office's to edit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    salutation: str | None = Field(None, max_length=40)
    first_name: str | None = Field(None, max_length=120)
    last_name: str = Field(min_length=1, max_length=120)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    mobile: str | None = Field(None, max_length=40)
    street: str | None = Field(None, max_length=200)
    zip_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    birthday: date | None = None
    status: ContactStatus = ContactStatus.PROSPECT
    newsletter: bool = False
    owner_user_id: int | None = None

    @field_validator(
        "salutation", "first_name", "email", "phone", "mobile", "street", "zip_code", "city", mode="before"
    )
    @classmethod
    def _empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("birthday", "owner_user_id", mode="before")
    @classmethod
    def _empty_value(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_email(value)
        except ValueError:
            raise ValueError("keine gültige E-Mail-Adresse") from None


@dataclass
class ContactFilter:
    query: str = ""
    status: str = ""
    archived: bool = False
    page: int = 1


def text_matches(column: Any, text: str) -> Any:
    """COLUMN contains TEXT, ignoring case. SQLite's lower() folds ASCII only ("Öztürk" stays "Öztürk"), so the
    text is also tried as typed and capitalised; PostgreSQL's lower() alone would do."""
    variants = {text.lower(), text, text[:1].upper() + text[1:]}
    return or_(func.lower(column).like(f"%{text.lower()}%"), *(column.like(f"%{variant}%") for variant in variants))


def search_condition(query: str) -> Any:
    """Name (first, last or both), e-mail, phone or mobile, zip code: what an agent has at hand on the phone."""
    text = " ".join(query.strip().split())
    digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    full_name = func.coalesce(Contact.first_name, "") + " " + Contact.last_name
    conditions = [
        text_matches(full_name, text),
        text_matches(Contact.last_name, text),
        Contact.email.like(f"%{text.lower()}%"),
        Contact.zip_code.like(f"%{text}%"),
    ]
    if len(digits) >= 3:
        # Phone numbers are stored as typed ("030 123 45"): compare without spaces, slashes and dashes.
        for column in (Contact.phone, Contact.mobile):
            bare = func.replace(func.replace(func.replace(func.coalesce(column, ""), " ", ""), "/", ""), "-", "")
            conditions.append(bare.like(f"%{digits}%"))
    return or_(*conditions)


async def list_contacts(session: AsyncSession, wanted: ContactFilter) -> tuple[list[Contact], int]:
    conditions: list[Any] = [
        (Contact.status == ContactStatus.ARCHIVED) if wanted.archived else (Contact.status != ContactStatus.ARCHIVED)
    ]
    if wanted.query.strip():
        conditions.append(search_condition(wanted.query))
    if wanted.status and not wanted.archived:
        conditions.append(Contact.status == wanted.status)
    total = await session.scalar(select(func.count()).select_from(Contact).where(*conditions)) or 0
    rows = await session.scalars(
        select(Contact)
        .where(*conditions)
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
        .limit(PAGE_SIZE)
        .offset((max(wanted.page, 1) - 1) * PAGE_SIZE)
    )
    return list(rows), total


@dataclass
class JournalEntry:
    at: datetime
    kind: str  # the activity's kind, or "notiz" for a note
    reason: str | None
    text: str | None


@dataclass
class ContactOverview:
    contact: Contact
    owner: User | None
    user: User | None
    journal: list[JournalEntry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    inquiries: list[Inquiry] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    slot_requests: list[SlotRequest] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    contact_person_of: list[Property] = field(default_factory=list)
    properties: dict[int, Property] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)


async def contact_overview(session: AsyncSession, contact_id: int) -> ContactOverview | None:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return None
    view = ContactOverview(
        contact=contact,
        owner=await session.get(User, contact.owner_user_id) if contact.owner_user_id else None,
        user=await session.get(User, contact.user_id) if contact.user_id else None,
    )
    activities = await session.scalars(
        select(Activity)
        .where(Activity.contact_id == contact.id)
        .order_by(Activity.occurred_at.desc())
        .limit(SECTION_LIMIT)
    )
    notes = await session.scalars(
        select(Note).where(Note.contact_id == contact.id).order_by(Note.id.desc()).limit(SECTION_LIMIT)
    )
    view.journal = sorted(
        [JournalEntry(a.occurred_at, a.kind, a.reason, a.text) for a in activities]
        + [JournalEntry(n.created_at, "notiz", None, n.text) for n in notes],
        key=lambda entry: entry.at,
        reverse=True,
    )
    view.messages = list(
        await session.scalars(
            select(Message).where(Message.contact_id == contact.id).order_by(Message.id.desc()).limit(SECTION_LIMIT)
        )
    )
    linked = [Inquiry.contact_id == contact.id, Inquiry.duplicate_contact_id == contact.id]
    if contact.email:
        linked.append(Inquiry.email == contact.email)
    view.inquiries = list(
        await session.scalars(select(Inquiry).where(or_(*linked)).order_by(Inquiry.id.desc()).limit(SECTION_LIMIT))
    )
    view.leads = list(
        await session.scalars(
            select(Lead).where(Lead.contact_id == contact.id).order_by(Lead.id.desc()).limit(SECTION_LIMIT)
        )
    )
    view.slot_requests = list(
        await session.scalars(
            select(SlotRequest)
            .where(SlotRequest.contact_id == contact.id)
            .order_by(SlotRequest.id.desc())
            .limit(SECTION_LIMIT)
        )
    )
    view.tasks = list(
        await session.scalars(
            select(Task).where(Task.contact_id == contact.id).order_by(Task.done, Task.id.desc()).limit(SECTION_LIMIT)
        )
    )
    view.appointments = list(
        await session.scalars(
            select(Appointment)
            .where(Appointment.contact_id == contact.id)
            .order_by(Appointment.starts_at.desc())
            .limit(SECTION_LIMIT)
        )
    )
    view.deals = list(
        await session.scalars(
            select(Deal).where(Deal.contact_id == contact.id).order_by(Deal.id.desc()).limit(SECTION_LIMIT)
        )
    )
    view.contact_person_of = list(
        await session.scalars(
            select(Property)
            .join(PropertyContactPerson, PropertyContactPerson.property_id == Property.id)
            .where(PropertyContactPerson.contact_id == contact.id)
            .order_by(Property.external_ref)
        )
    )
    property_ids: set[int] = set()
    for rows in (view.inquiries, view.leads, view.slot_requests, view.appointments, view.deals):
        property_ids.update(row.property_id for row in rows if row.property_id is not None)
    if property_ids:
        view.properties = {
            p.id: p for p in await session.scalars(select(Property).where(Property.id.in_(property_ids)))
        }
    user_ids = {task.assignee_user_id for task in view.tasks if task.assignee_user_id} | {
        lead.taker_user_id for lead in view.leads
    }
    if user_ids:
        view.users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    return view


async def update_contact(session: AsyncSession, contact_id: int, data: ContactUpdate) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise ContactNotFoundError(f"Kontakt #{contact_id} existiert nicht.")
    if data.owner_user_id is not None and await session.get(User, data.owner_user_id) is None:
        raise ContactError(f"Benutzer #{data.owner_user_id} existiert nicht.")
    for name, value in data.model_dump().items():
        setattr(contact, name, value)
    return contact


async def set_archived(session: AsyncSession, contact_id: int, archived: bool) -> Contact:
    """Archived contacts leave the lists, the duplicate check and the birthday scan; their history stays."""
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise ContactNotFoundError(f"Kontakt #{contact_id} existiert nicht.")
    if archived:
        contact.status = ContactStatus.ARCHIVED
    elif contact.status == ContactStatus.ARCHIVED:
        contact.status = ContactStatus.PROSPECT
    return contact


async def contact_message(session: AsyncSession, contact_id: int, message_id: int) -> Message | None:
    message = await session.get(Message, message_id)
    return message if message is not None and message.contact_id == contact_id else None


async def create_contact(session: AsyncSession, data: ContactUpdate, *, source: str = "office") -> Contact:
    """A contact typed into the office's form, with its `contact.created` event (automations react to it)."""
    if data.owner_user_id is not None and await session.get(User, data.owner_user_id) is None:
        raise ContactError(f"Benutzer #{data.owner_user_id} existiert nicht.")
    return await crm_writes.add_contact(session, Contact(**data.model_dump(), source=source))


JOURNAL_KINDS = {
    ActivityKind.CALL: "Telefonat",
    ActivityKind.EMAIL: "E-Mail",
    ActivityKind.VIEWING: "Besichtigung",
    ActivityKind.CANCELLATION: "Absage",
    ActivityKind.ACCEPTANCE: "Zusage",
    ActivityKind.WAITING_LIST: "Warteliste",
    ActivityKind.OTHER: "Sonstiges",
}
NOTE = "notiz"


async def add_journal_entry(
    session: AsyncSession, contact_id: int, *, kind: str, text: str, reason: str | None, user_id: int | None
) -> None:
    """A note, or an activity (an Absage, Zusage or Warteliste stops the contact's inquiry follow-ups, seed 000),
    written with its domain event like POST /api/notes and /api/activities."""
    if kind != NOTE and kind not in JOURNAL_KINDS:
        raise ContactError("Bitte eine Art des Eintrags wählen.")
    if kind == NOTE and not text:
        raise ContactError("Eine Notiz braucht einen Text.")
    if await session.get(Contact, contact_id) is None:
        raise ContactNotFoundError(f"Kontakt #{contact_id} existiert nicht.")
    if kind == NOTE:
        await crm_writes.add_note(session, Note(text=text, contact_id=contact_id, user_id=user_id))
        return
    activity = Activity(
        kind=kind, reason=reason, text=text or None, contact_id=contact_id, user_id=user_id, occurred_at=utcnow()
    )
    await crm_writes.add_activity(session, activity)


# --- use cases (each opens its own session) ---------------------------------------------------------------


async def search_contacts(services: Services, wanted: ContactFilter) -> tuple[list[Contact], int]:
    """One page of the contact search (the list page and GET /api/contacts) and the number of all matches."""
    async with services.sessions() as session:
        return await list_contacts(session, wanted)


async def get_contact(services: Services, contact_id: int) -> Contact | None:
    """One contact as stored (the edit form, GET /api/contacts/{id}); None when there is none."""
    async with services.sessions() as session:
        return await session.get(Contact, contact_id)


async def get_contact_overview(services: Services, contact_id: int) -> ContactOverview | None:
    """Everything the CRM holds about one contact, for the contact's page; None when there is none."""
    async with services.sessions() as session:
        return await contact_overview(session, contact_id)


async def find_contact_message(services: Services, contact_id: int, message_id: int) -> Message | None:
    """A mail sent to the contact, as sent; None when there is none or it went to someone else."""
    async with services.sessions() as session:
        return await contact_message(session, contact_id, message_id)


async def add_office_contact(services: Services, data: ContactUpdate) -> Contact:
    """A contact typed into the office's form, with its `contact.created` event; ContactError when the
    chosen owner does not exist."""
    async with services.sessions.begin() as session:
        return await create_contact(session, data)


async def save_contact(services: Services, contact_id: int, data: ContactUpdate) -> Contact:
    """Replace a contact's editable fields (the edit form, PUT /api/contacts/{id}). ContactNotFoundError when the
    contact does not exist, ContactError when the chosen owner does not."""
    async with services.sessions.begin() as session:
        return await update_contact(session, contact_id, data)


async def archive_contact(services: Services, contact_id: int, archived: bool) -> Contact:
    """Archive or restore a contact (page and API); ContactNotFoundError when it does not exist."""
    async with services.sessions.begin() as session:
        return await set_archived(session, contact_id, archived)


async def record_journal_entry(
    services: Services, contact_id: int, *, kind: str, text: str, reason: str | None, user_id: int | None
) -> None:
    """A note or activity from the contact's page, with its domain event (see add_journal_entry)."""
    async with services.sessions.begin() as session:
        await add_journal_entry(session, contact_id, kind=kind, text=text, reason=reason, user_id=user_id)
