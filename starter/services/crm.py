"""The CRM API's use cases (web/api/crm.py): create contacts, journal activities, notes, deals and appointments,
read them back, and move a deal to another stage.

Every write goes through db/crm_writes.py, which records the change's domain event in the same transaction;
events from here have depth 0 (a person or a script made the change). Values arrive as the API's validated
bodies, dumped to plain dicts; a link to a row that does not exist is refused before anything is written.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import crm_writes
from db.base import Base, utcnow
from db.models import Activity, Appointment, Contact, Deal, Inquiry, Note, Property, User
from starter.services.context import Services

ModelT = TypeVar("ModelT", bound=Base)

# The id fields a body may carry, the table each points to and the name the refusal uses.
_LINKS: dict[str, tuple[type[Base], str]] = {
    "contact_id": (Contact, "Kontakt"),
    "property_id": (Property, "Objekt"),
    "inquiry_id": (Inquiry, "Anfrage"),
    "user_id": (User, "Benutzer"),
    "owner_user_id": (User, "Benutzer"),
}


class CrmError(ValueError):
    """A write or read the CRM refuses; the message is German and meant for the caller."""


class MissingLinkError(CrmError):
    """The body links to a row that does not exist (the request is wrong: 422)."""


class NotFoundError(CrmError):
    """The row the path names does not exist (404)."""


async def _check_links(session: AsyncSession, values: dict[str, Any]) -> None:
    for name, (model, label) in _LINKS.items():
        row_id = values.get(name)
        if row_id is not None and await session.get(model, row_id) is None:
            raise MissingLinkError(f"{label} #{row_id} existiert nicht")


async def _found(session: AsyncSession, model: type[ModelT], row_id: int, label: str) -> ModelT:
    row = await session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"{label} #{row_id} existiert nicht")
    return row


async def create_contact(services: Services, values: dict[str, Any]) -> Contact:
    """A contact from a script (POST /api/contacts), with its `contact.created` event."""
    async with services.sessions.begin() as session:
        await _check_links(session, values)
        return await crm_writes.add_contact(session, Contact(**values))


async def create_activity(services: Services, values: dict[str, Any]) -> Activity:
    """A journal activity; without `occurred_at` it happened now. Its event may stop inquiry follow-ups."""
    async with services.sessions.begin() as session:
        await _check_links(session, values)
        values = {**values, "occurred_at": values.get("occurred_at") or utcnow()}
        return await crm_writes.add_activity(session, Activity(**values))


async def list_activities(
    services: Services,
    *,
    contact_id: int | None = None,
    inquiry_id: int | None = None,
    property_id: int | None = None,
    limit: int = 100,
) -> list[Activity]:
    """The journal, newest first, narrowed to a contact, an inquiry and/or a property."""
    query = select(Activity).order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)
    for column, value in (
        (Activity.contact_id, contact_id),
        (Activity.inquiry_id, inquiry_id),
        (Activity.property_id, property_id),
    ):
        if value is not None:
            query = query.where(column == value)
    async with services.sessions() as session:
        return list(await session.scalars(query))


async def create_note(services: Services, values: dict[str, Any]) -> Note:
    """A note on a contact and/or property, with its `note.created` event."""
    async with services.sessions.begin() as session:
        await _check_links(session, values)
        return await crm_writes.add_note(session, Note(**values))


async def list_notes(
    services: Services, *, contact_id: int | None = None, property_id: int | None = None, limit: int = 100
) -> list[Note]:
    """Notes, newest first, narrowed to a contact and/or a property."""
    query = select(Note).order_by(Note.id.desc()).limit(limit)
    if contact_id is not None:
        query = query.where(Note.contact_id == contact_id)
    if property_id is not None:
        query = query.where(Note.property_id == property_id)
    async with services.sessions() as session:
        return list(await session.scalars(query))


async def create_deal(services: Services, values: dict[str, Any]) -> Deal:
    """A deal, with its `deal.created` event."""
    async with services.sessions.begin() as session:
        await _check_links(session, values)
        return await crm_writes.add_deal(session, Deal(**values))


async def get_deal(services: Services, deal_id: int) -> Deal:
    """One deal; NotFoundError when there is none."""
    async with services.sessions() as session:
        return await _found(session, Deal, deal_id, "Deal")


async def change_deal_stage(services: Services, deal_id: int, stage: str) -> tuple[Deal, bool]:
    """Move the deal; the flag is False (and no event is written) when it was in that stage already."""
    async with services.sessions.begin() as session:
        deal = await _found(session, Deal, deal_id, "Deal")
        changed = await crm_writes.change_deal_stage(session, deal, stage)
        await session.flush()  # the deal as stored (updated_at) is what the caller answers with
        return deal, changed


async def create_appointment(services: Services, values: dict[str, Any]) -> Appointment:
    """An appointment of no lead (a lead's appointments go through the lead's workflow)."""
    async with services.sessions.begin() as session:
        await _check_links(session, values)
        return await crm_writes.add_appointment(session, Appointment(**values))
