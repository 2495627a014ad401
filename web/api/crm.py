"""A small CRM API: contacts, journal activities, notes, deals (with stage changes) and appointments.

Every write records its domain event in the same transaction (db/crm_writes.py), so automations,
lead reminders and whatever comes next react to changes made here, and no change is lost between the
commit and its delivery. Events from here have depth 0: a person (or a script) made the change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import crm_writes
from db.base import Base, utcnow
from db.models import Activity, Appointment, Contact, Deal, Inquiry, Note, Property, User
from starter.services.context import Services
from web.api.crm_models import (
    ActivityIn,
    ActivityOut,
    AppointmentIn,
    AppointmentOut,
    ContactIn,
    ContactOut,
    DealIn,
    DealOut,
    NoteIn,
    NoteOut,
    StageIn,
)
from web.dependencies import ServicesDep

router = APIRouter(prefix="/api", tags=["crm"])

ModelT = TypeVar("ModelT", bound=Base)
Limit = Annotated[int, Query(ge=1, le=500)]


@asynccontextmanager
async def transaction(services: Services) -> AsyncIterator[AsyncSession]:
    async with services.sessions.begin() as session:
        yield session


async def _exists(session: AsyncSession, model: type[ModelT], row_id: int | None, label: str) -> None:
    if row_id is not None and await session.get(model, row_id) is None:
        raise HTTPException(422, f"{label} #{row_id} existiert nicht")


async def _found(session: AsyncSession, model: type[ModelT], row_id: int, label: str) -> ModelT:
    row = await session.get(model, row_id)
    if row is None:
        raise HTTPException(404, f"{label} #{row_id} existiert nicht")
    return row


async def _links(session: AsyncSession, data: BaseModel) -> None:
    refs: dict[str, tuple[Any, str]] = {
        "contact_id": (Contact, "Kontakt"),
        "property_id": (Property, "Objekt"),
        "inquiry_id": (Inquiry, "Anfrage"),
        "user_id": (User, "Benutzer"),
        "owner_user_id": (User, "Benutzer"),
    }
    for name, (model, label) in refs.items():
        if name in type(data).model_fields:
            await _exists(session, model, getattr(data, name), label)


@router.post("/contacts", status_code=201, response_model=ContactOut)
async def create_contact(data: ContactIn, services: ServicesDep) -> Contact:
    async with transaction(services) as session:
        await _links(session, data)
        return await crm_writes.add_contact(session, Contact(**data.model_dump()))


@router.get("/contacts/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: int, services: ServicesDep) -> Contact:
    async with services.sessions() as session:
        return await _found(session, Contact, contact_id, "Kontakt")


@router.post("/activities", status_code=201, response_model=ActivityOut)
async def create_activity(data: ActivityIn, services: ServicesDep) -> Activity:
    async with transaction(services) as session:
        await _links(session, data)
        values = data.model_dump()
        values["occurred_at"] = data.occurred_at or utcnow()
        return await crm_writes.add_activity(session, Activity(**values))


@router.get("/activities", response_model=list[ActivityOut])
async def list_activities(
    services: ServicesDep,
    contact_id: int | None = None,
    inquiry_id: int | None = None,
    property_id: int | None = None,
    limit: Limit = 100,
) -> list[Activity]:
    query = select(Activity).order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)
    for column, value in ((Activity.contact_id, contact_id), (Activity.inquiry_id, inquiry_id)):
        if value is not None:
            query = query.where(column == value)
    if property_id is not None:
        query = query.where(Activity.property_id == property_id)
    async with services.sessions() as session:
        return list(await session.scalars(query))


@router.post("/notes", status_code=201, response_model=NoteOut)
async def create_note(data: NoteIn, services: ServicesDep) -> Note:
    async with transaction(services) as session:
        await _links(session, data)
        return await crm_writes.add_note(session, Note(**data.model_dump()))


@router.get("/notes", response_model=list[NoteOut])
async def list_notes(
    services: ServicesDep, contact_id: int | None = None, property_id: int | None = None, limit: Limit = 100
) -> list[Note]:
    query = select(Note).order_by(Note.id.desc()).limit(limit)
    if contact_id is not None:
        query = query.where(Note.contact_id == contact_id)
    if property_id is not None:
        query = query.where(Note.property_id == property_id)
    async with services.sessions() as session:
        return list(await session.scalars(query))


@router.post("/deals", status_code=201, response_model=DealOut)
async def create_deal(data: DealIn, services: ServicesDep) -> Deal:
    async with transaction(services) as session:
        await _links(session, data)
        return await crm_writes.add_deal(session, Deal(**data.model_dump()))


@router.get("/deals/{deal_id}", response_model=DealOut)
async def get_deal(deal_id: int, services: ServicesDep) -> Deal:
    async with services.sessions() as session:
        return await _found(session, Deal, deal_id, "Deal")


@router.post("/deals/{deal_id}/stage", response_model=DealOut)
async def change_stage(deal_id: int, data: StageIn, services: ServicesDep) -> DealOut:
    """Move the deal; `changed` is false (and no event is written) when it was in that stage already."""
    async with transaction(services) as session:
        deal = await _found(session, Deal, deal_id, "Deal")
        changed = await crm_writes.change_deal_stage(session, deal, data.stage)
        await session.flush()
        return DealOut.model_validate(deal).model_copy(update={"changed": changed})


@router.post("/appointments", status_code=201, response_model=AppointmentOut)
async def create_appointment(data: AppointmentIn, services: ServicesDep) -> Appointment:
    """An appointment of no lead (lead appointments: POST /api/leads/{id}/appointments)."""
    async with transaction(services) as session:
        await _links(session, data)
        return await crm_writes.add_appointment(session, Appointment(**data.model_dump()))
