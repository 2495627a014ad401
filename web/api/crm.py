"""A small CRM API: contacts, journal activities, notes, deals (with stage changes) and appointments.

Every write records its domain event in the same transaction (db/crm_writes.py, through
starter/services/crm.py), so automations, lead reminders and whatever comes next react to changes made
here, and no change is lost between the commit and its delivery. Events from here have depth 0: a person
(or a script) made the change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from db.models import Activity, Appointment, Contact, Deal, Note
from starter.services import contacts, crm
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

Limit = Annotated[int, Query(ge=1, le=500)]


def _refused(exc: crm.CrmError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, crm.NotFoundError) else 422, str(exc))


@router.post("/contacts", status_code=201, response_model=ContactOut)
async def create_contact(data: ContactIn, services: ServicesDep) -> Contact:
    try:
        return await crm.create_contact(services, data.model_dump())
    except crm.CrmError as exc:
        raise _refused(exc) from None


@router.get("/contacts/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: int, services: ServicesDep) -> Contact:
    contact = await contacts.get_contact(services, contact_id)
    if contact is None:
        raise HTTPException(404, f"Kontakt #{contact_id} existiert nicht")
    return contact


@router.post("/activities", status_code=201, response_model=ActivityOut)
async def create_activity(data: ActivityIn, services: ServicesDep) -> Activity:
    try:
        return await crm.create_activity(services, data.model_dump())
    except crm.CrmError as exc:
        raise _refused(exc) from None


@router.get("/activities", response_model=list[ActivityOut])
async def list_activities(
    services: ServicesDep,
    contact_id: int | None = None,
    inquiry_id: int | None = None,
    property_id: int | None = None,
    limit: Limit = 100,
) -> list[Activity]:
    return await crm.list_activities(
        services, contact_id=contact_id, inquiry_id=inquiry_id, property_id=property_id, limit=limit
    )


@router.post("/notes", status_code=201, response_model=NoteOut)
async def create_note(data: NoteIn, services: ServicesDep) -> Note:
    try:
        return await crm.create_note(services, data.model_dump())
    except crm.CrmError as exc:
        raise _refused(exc) from None


@router.get("/notes", response_model=list[NoteOut])
async def list_notes(
    services: ServicesDep, contact_id: int | None = None, property_id: int | None = None, limit: Limit = 100
) -> list[Note]:
    return await crm.list_notes(services, contact_id=contact_id, property_id=property_id, limit=limit)


@router.post("/deals", status_code=201, response_model=DealOut)
async def create_deal(data: DealIn, services: ServicesDep) -> Deal:
    try:
        return await crm.create_deal(services, data.model_dump())
    except crm.CrmError as exc:
        raise _refused(exc) from None


@router.get("/deals/{deal_id}", response_model=DealOut)
async def get_deal(deal_id: int, services: ServicesDep) -> Deal:
    try:
        return await crm.get_deal(services, deal_id)
    except crm.CrmError as exc:
        raise _refused(exc) from None


@router.post("/deals/{deal_id}/stage", response_model=DealOut)
async def change_stage(deal_id: int, data: StageIn, services: ServicesDep) -> DealOut:
    """Move the deal; `changed` is false (and no event is written) when it was in that stage already."""
    try:
        deal, changed = await crm.change_deal_stage(services, deal_id, data.stage)
    except crm.CrmError as exc:
        raise _refused(exc) from None
    return DealOut.model_validate(deal).model_copy(update={"changed": changed})


@router.post("/appointments", status_code=201, response_model=AppointmentOut)
async def create_appointment(data: AppointmentIn, services: ServicesDep) -> Appointment:
    """An appointment of no lead (lead appointments: POST /api/leads/{id}/appointments)."""
    try:
        return await crm.create_appointment(services, data.model_dump())
    except crm.CrmError as exc:
        raise _refused(exc) from None
