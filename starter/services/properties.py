"""Properties as the office manages them: the list's filters, a property's page, create/edit, archive.

Web handlers (web/pages/properties.py, property_admin.py) and the API call the use cases at the end (they
take `Services` and open their own session); the functions taking a session leave the transaction to
their caller. Contact persons are ordered (position 0 answers time-slot requests, seed 001) and may be
users or contacts: a user is stored as the contact record that stands for that user (`Contact.user_id`),
created on first use, which is how slot routing already tells the two apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import (
    Contact,
    ContactStatus,
    Inquiry,
    Lead,
    MarketingStatus,
    Property,
    PropertyContactPerson,
    PropertyVisibility,
    User,
)
from messaging.inquiry_mail import key_facts
from starter.services.contacts import text_matches
from starter.services.context import Services
from starter.services.media import MediaStore

MARKETING_LABELS = {
    MarketingStatus.ACTIVE: "In Vermarktung",
    MarketingStatus.RESERVED: "Reserviert",
    MarketingStatus.SOLD: "Verkauft/vermietet",
    MarketingStatus.INACTIVE: "Nicht in Vermarktung",
}
TEXT_LABELS = ("Kurzbeschreibung", "Objektbeschreibung", "Lage", "Ausstattung", "Sonstiges")  # as OpenImmo's freitexte
PAGE_SIZE = 50
_PERSON = re.compile(r"^(user|contact):(\d{1,18})$")
_THOUSANDS = re.compile(r"\d{1,3}(\.\d{3})+")


class PropertyError(ValueError):
    """A change that cannot be made; the text is German and says why."""


def parse_decimal(value: str | None, label: str) -> Decimal | None:
    """`1.250,50`, `689.000`, `1250.5` or `1250` as people type them; empty is None."""
    text = (value or "").strip().replace(" ", "").replace("€", "").replace("m²", "")
    if not text:
        return None
    if "," in text or _THOUSANDS.fullmatch(text):  # 1.250,50 and 689.000 as Germans write them
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PropertyError(f"{label}: „{value}“ ist keine Zahl.") from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e9"):
        raise PropertyError(f"{label}: „{value}“ liegt außerhalb des gültigen Bereichs.")
    return number


def parse_key_facts(text: str) -> dict[str, str]:
    """One fact a line, `Bezeichnung: Wert` (e.g. `Kaltmiete: 1.250 €`)."""
    facts: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, colon, value = line.partition(":")
        if not colon or not label.strip() or not value.strip():
            raise PropertyError(f"Eckdaten, Zeile {number}: bitte „Bezeichnung: Wert“ schreiben.")
        facts[label.strip()[:60]] = value.strip()[:200]
    if len(facts) > 40:
        raise PropertyError("Eckdaten: höchstens 40 Zeilen.")
    return facts


def format_key_facts(facts: dict[str, Any]) -> str:
    return "\n".join(f"{label}: {value}" for label, value in facts.items())


class PropertyInput(BaseModel):
    """What the create/edit form and the API accept; numbers arrive parsed (see parse_decimal)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[^\s/\\?#]+$")
    title: str = Field(min_length=1, max_length=300)
    marketing_status: MarketingStatus = MarketingStatus.ACTIVE
    visible_to_all: bool = False
    visible_user_ids: list[int] = Field(default_factory=list, max_length=500)
    manager_user_id: int | None = None
    contact_persons: list[str] = Field(default_factory=list, max_length=20, description="user:ID or contact:ID")
    property_type: str | None = Field(None, max_length=60)
    rooms: Decimal | None = Field(None, ge=0, lt=1000)
    living_area: Decimal | None = Field(None, ge=0, lt=10_000_000)
    price: Decimal | None = Field(None, ge=0, lt=10_000_000_000)
    street: str | None = Field(None, max_length=200)
    zip_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    key_data: dict[str, str] = Field(default_factory=dict)
    texts: dict[str, str] = Field(default_factory=dict)
    expose_url: str | None = Field(None, max_length=1000)

    @field_validator("property_type", "street", "zip_code", "city", "expose_url", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("expose_url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("/") and not value.startswith("//"):
            return value
        if not value.lower().startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError("Exposé-Link: bitte eine Adresse mit https:// angeben")
        return value

    @field_validator("contact_persons")
    @classmethod
    def _persons(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip() for item in value if item.strip()]
        for item in cleaned:
            if not _PERSON.fullmatch(item):
                raise ValueError(f"Ansprechpartner „{item}“: erwartet user:ID oder contact:ID")
        return list(dict.fromkeys(cleaned))  # the first mention decides the order


@dataclass
class PropertyFilter:
    query: str = ""
    status: str = ""
    manager_user_id: int | None = None
    visible_to_user_id: int | None = None  # "sichtbar für mich"
    archived: bool = False
    page: int = 1


@dataclass
class PropertyRow:
    prop: Property
    manager: User | None
    visible_users: int


@dataclass
class ContactPersonView:
    position: int
    contact: Contact
    user: User | None


@dataclass
class PropertyDetail:
    prop: Property
    manager: User | None
    visible_users: list[User]
    contact_persons: list[ContactPersonView]
    facts: list[tuple[str, str]]
    inquiries: int
    open_leads: int
    extra: dict[str, Any] = field(default_factory=dict)


def visible_to(user_id: int) -> Any:
    """The visibility rule of seed 002 as a condition: visible to all, or to this user."""
    return or_(
        Property.visible_to_all.is_(True),
        exists().where(PropertyVisibility.property_id == Property.id, PropertyVisibility.user_id == user_id),
    )


async def list_properties(session: AsyncSession, wanted: PropertyFilter) -> tuple[list[PropertyRow], int]:
    """One page of properties under WANTED and the number of all that match."""
    conditions: list[Any] = [Property.archived.is_(wanted.archived)]
    if wanted.query.strip():
        text = " ".join(wanted.query.split())
        conditions.append(
            or_(
                *(text_matches(column, text) for column in (Property.external_ref, Property.title, Property.city)),
                text_matches(Property.street, text),
                Property.zip_code.like(f"%{text}%"),
            )
        )
    if wanted.status:
        conditions.append(Property.marketing_status == wanted.status)
    if wanted.manager_user_id is not None:
        conditions.append(Property.manager_user_id == wanted.manager_user_id)
    if wanted.visible_to_user_id is not None:
        conditions.append(visible_to(wanted.visible_to_user_id))
    total = await session.scalar(select(func.count()).select_from(Property).where(*conditions)) or 0
    visible_count = (
        select(func.count()).where(PropertyVisibility.property_id == Property.id).correlate(Property).scalar_subquery()
    )
    rows = await session.execute(
        select(Property, User, visible_count)
        .outerjoin(User, User.id == Property.manager_user_id)
        .where(*conditions)
        .order_by(Property.external_ref)
        .limit(PAGE_SIZE)
        .offset((max(wanted.page, 1) - 1) * PAGE_SIZE)
    )
    return [PropertyRow(prop=prop, manager=manager, visible_users=count) for prop, manager, count in rows], total


async def property_detail(session: AsyncSession, property_id: int) -> PropertyDetail | None:
    prop = await session.get(Property, property_id)
    if prop is None:
        return None
    manager = await session.get(User, prop.manager_user_id) if prop.manager_user_id else None
    visible = await session.scalars(
        select(User)
        .join(PropertyVisibility, PropertyVisibility.user_id == User.id)
        .where(PropertyVisibility.property_id == prop.id)
        .order_by(User.name)
    )
    persons = await session.execute(
        select(PropertyContactPerson.position, Contact, User)
        .join(Contact, Contact.id == PropertyContactPerson.contact_id)
        .outerjoin(User, User.id == Contact.user_id)
        .where(PropertyContactPerson.property_id == prop.id)
        .order_by(PropertyContactPerson.position)
    )
    inquiries = await session.scalar(select(func.count()).where(Inquiry.property_id == prop.id)) or 0
    leads = await session.scalar(select(func.count()).where(Lead.property_id == prop.id, Lead.status == "open")) or 0
    return PropertyDetail(
        prop=prop,
        manager=manager,
        visible_users=list(visible),
        contact_persons=[ContactPersonView(position, contact, user) for position, contact, user in persons],
        facts=key_facts(prop),
        inquiries=inquiries,
        open_leads=leads,
    )


async def save_property(session: AsyncSession, data: PropertyInput, property_id: int | None = None) -> Property:
    """Create (PROPERTY_ID None) or replace a property with its visibility and ordered contact persons."""
    if property_id is not None and await session.get(Property, property_id) is None:
        raise PropertyError(f"Objekt #{property_id} existiert nicht.")
    clash = await session.scalar(
        select(Property.id).where(
            func.lower(Property.external_ref) == data.external_ref.lower(), Property.id != (property_id or 0)
        )
    )
    if clash is not None:
        raise PropertyError(f"Die Objektnummer {data.external_ref} hat schon Objekt #{clash}.")
    user_ids = {*data.visible_user_ids, *([data.manager_user_id] if data.manager_user_id else [])}
    known = set(await session.scalars(select(User.id).where(User.id.in_(user_ids)))) if user_ids else set()
    if missing := sorted(user_ids - known):
        raise PropertyError(f"Benutzer #{missing[0]} existiert nicht.")
    if property_id is None:
        prop = Property(external_ref=data.external_ref, title=data.title, source="office", images=[], texts={})
        session.add(prop)
    else:
        found = await session.get(Property, property_id)
        if found is None:
            raise PropertyError(f"Objekt #{property_id} existiert nicht.")
        prop = found
        prop.updated_at = utcnow()
    for name in (
        "external_ref",
        "title",
        "marketing_status",
        "visible_to_all",
        "manager_user_id",
        "property_type",
        "rooms",
        "living_area",
        "price",
        "street",
        "zip_code",
        "city",
        "key_data",
        "expose_url",
    ):
        setattr(prop, name, getattr(data, name))
    # Texts the form does not show (another exporter's) stay; the form's own are replaced, empty ones dropped.
    kept = {label: text for label, text in (prop.texts or {}).items() if label not in TEXT_LABELS}
    prop.texts = {**kept, **{label: text for label, text in data.texts.items() if text.strip()}}
    await session.flush()
    await session.execute(delete(PropertyVisibility).where(PropertyVisibility.property_id == prop.id))
    session.add_all(
        PropertyVisibility(property_id=prop.id, user_id=user_id) for user_id in sorted(set(data.visible_user_ids))
    )
    await session.execute(delete(PropertyContactPerson).where(PropertyContactPerson.property_id == prop.id))
    await session.flush()
    for position, person in enumerate(data.contact_persons):
        contact_id = await _person_contact(session, person)
        session.add(PropertyContactPerson(property_id=prop.id, contact_id=contact_id, position=position))
    await session.flush()
    return prop


async def _person_contact(session: AsyncSession, person: str) -> int:
    kind, _, raw_id = person.partition(":")
    row_id = int(raw_id)
    if kind == "contact":
        if await session.get(Contact, row_id) is None:
            raise PropertyError(f"Kontakt #{row_id} existiert nicht.")
        return row_id
    user = await session.get(User, row_id)
    if user is None:
        raise PropertyError(f"Benutzer #{row_id} existiert nicht.")
    existing = await session.scalar(select(Contact.id).where(Contact.user_id == user.id).order_by(Contact.id).limit(1))
    if existing is not None:
        return existing
    first, _, last = user.name.rpartition(" ")
    contact = Contact(
        first_name=first or None,
        last_name=last or user.name,
        email=user.email.lower(),
        mobile=user.mobile,
        status=ContactStatus.AGENT,
        user_id=user.id,
        source="office",
    )
    session.add(contact)
    await session.flush()
    return contact.id


async def set_archived(session: AsyncSession, property_id: int, archived: bool) -> Property:
    prop = await session.get(Property, property_id)
    if prop is None:
        raise PropertyError(f"Objekt #{property_id} existiert nicht.")
    prop.archived = archived
    if archived:
        # Seed 002: an archived property is not in active marketing, so new inquiries for it are ignored.
        prop.marketing_status = MarketingStatus.INACTIVE
    prop.updated_at = utcnow()
    return prop


async def person_choices(session: AsyncSession) -> list[tuple[str, str]]:
    """(value, label) for the contact person picker: users first, then contacts that are no user."""
    users = await session.scalars(select(User).where(User.is_active).order_by(User.name))
    contacts = await session.scalars(
        select(Contact)
        .where(Contact.user_id.is_(None), Contact.status != ContactStatus.ARCHIVED)
        .order_by(Contact.last_name, Contact.first_name)
        .limit(1000)
    )
    choices = [(f"user:{user.id}", f"{user.name} (Benutzer)") for user in users]
    choices += [
        (f"contact:{contact.id}", f"{contact.display_name}" + (f" <{contact.email}>" if contact.email else ""))
        for contact in contacts
    ]
    return choices


async def person_values(session: AsyncSession, property_id: int) -> list[str]:
    rows = await session.execute(
        select(Contact.id, Contact.user_id)
        .join(PropertyContactPerson, PropertyContactPerson.contact_id == Contact.id)
        .where(PropertyContactPerson.property_id == property_id)
        .order_by(PropertyContactPerson.position)
    )
    return [f"user:{user_id}" if user_id else f"contact:{contact_id}" for contact_id, user_id in rows]


async def set_media(session: AsyncSession, property_id: int) -> Property:
    """The property whose cover or exposé the caller is about to set (a stored file is only linked here)."""
    prop = await session.get(Property, property_id)
    if prop is None:
        raise PropertyError(f"Objekt #{property_id} existiert nicht.")
    prop.updated_at = utcnow()
    return prop


# --- use cases (each opens its own session) ---------------------------------------------------------------


async def search_properties(services: Services, wanted: PropertyFilter) -> tuple[list[PropertyRow], int]:
    """One page of the property list (the list page and GET /api/properties) and the number of all matches."""
    async with services.sessions() as session:
        return await list_properties(session, wanted)


async def get_property_detail(services: Services, property_id: int) -> PropertyDetail | None:
    """A property's page (and GET /api/properties/{id}): the property, who sees it, its contact persons and
    counts; None when there is none."""
    async with services.sessions() as session:
        return await property_detail(session, property_id)


async def property_exists(services: Services, property_id: int) -> bool:
    """Whether the property is there (an edit or upload for a missing one is answered before reading the body)."""
    async with services.sessions() as session:
        return await session.get(Property, property_id) is not None


async def find_expose(services: Services, property_id: int) -> tuple[Path, str] | None:
    """The stored exposé PDF of a property and its ref (for the file name); None when there is none."""
    detail = await get_property_detail(services, property_id)
    stored = detail.prop.expose_file if detail else None
    path = MediaStore(services.settings.data_dir).document_path(stored) if stored else None
    if detail is None or path is None:
        return None
    return path, detail.prop.external_ref


@dataclass
class PropertyFormChoices:
    users: list[User]
    persons: list[tuple[str, str]]
    detail: PropertyDetail | None


async def property_form_choices(services: Services, property_id: int | None) -> PropertyFormChoices:
    """What the property form offers: active users, contact person choices, and the property when editing."""
    async with services.sessions() as session:
        users = list(await session.scalars(select(User).where(User.is_active).order_by(User.name)))
        persons = await person_choices(session)
        detail = await property_detail(session, property_id) if property_id else None
    return PropertyFormChoices(users=users, persons=persons, detail=detail)


def _form_number(value: Any) -> str:
    return "" if value is None else str(value).replace(".", ",").removesuffix(",0").removesuffix(",00")


async def property_form_values(services: Services, property_id: int) -> dict[str, Any] | None:
    """A stored property as the edit form shows it (German decimals, key facts as lines); None when missing."""
    async with services.sessions() as session:
        detail = await property_detail(session, property_id)
        if detail is None:
            return None
        prop = detail.prop
        return {
            "external_ref": prop.external_ref,
            "title": prop.title,
            "marketing_status": prop.marketing_status,
            "visible_to_all": prop.visible_to_all,
            "visible_user_ids": [user.id for user in detail.visible_users],
            "manager_user_id": prop.manager_user_id,
            "contact_persons": await person_values(session, prop.id),
            "property_type": prop.property_type or "",
            "rooms": _form_number(prop.rooms),
            "living_area": _form_number(prop.living_area),
            "price": _form_number(prop.price),
            "street": prop.street or "",
            "zip_code": prop.zip_code or "",
            "city": prop.city or "",
            "key_data": format_key_facts(prop.key_data),
            "texts": dict(prop.texts),
            "expose_url": prop.expose_url or "",
        }


async def store_property(services: Services, data: PropertyInput, property_id: int | None = None) -> int:
    """Create (PROPERTY_ID None) or replace a property from the form or the API; returns its id.
    PropertyError when the ref is taken, a linked row is missing or the property does not exist."""
    async with services.sessions.begin() as session:
        prop = await save_property(session, data, property_id)
        return prop.id


async def attach_cover(services: Services, property_id: int, data: bytes) -> None:
    """Check and store an uploaded cover picture and make it the property's; MediaError when it is no picture."""
    url = MediaStore(services.settings.data_dir).save_picture(property_id, data, "Das Titelbild")
    async with services.sessions.begin() as session:
        (await set_media(session, property_id)).cover_image_url = url


async def attach_expose(services: Services, property_id: int, data: bytes) -> None:
    """Check and store an uploaded exposé PDF and make it the one inquiries get; MediaError when it is no PDF."""
    path = MediaStore(services.settings.data_dir).save_expose(property_id, data)
    async with services.sessions.begin() as session:
        (await set_media(session, property_id)).expose_file = path


async def remove_expose(services: Services, property_id: int) -> None:
    """Stop sending the exposé PDF (the file stays on disk); PropertyError when the property does not exist."""
    async with services.sessions.begin() as session:
        (await set_media(session, property_id)).expose_file = None


async def archive_property(services: Services, property_id: int, archived: bool) -> Property:
    """Archive or restore a property (page and API); PropertyError when it does not exist."""
    async with services.sessions.begin() as session:
        return await set_archived(session, property_id, archived)
