"""Contacts for scripts: search (GET /api/contacts), replace (PUT /api/contacts/{id}), archive and restore.

Creating and reading one contact stay in web/api/crm.py (POST /api/contacts, GET /api/contacts/{id}).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from db.models import Contact, ContactStatus
from starter.services import contacts as service
from web.api.crm_models import ContactOut
from web.dependencies import ServicesDep

router = APIRouter(prefix="/api/contacts", tags=["crm"])


class ContactRow(ContactOut):
    model_config = ConfigDict(from_attributes=True)

    phone: str | None
    mobile: str | None
    street: str | None
    zip_code: str | None
    city: str | None
    user_id: int | None


class ContactPage(BaseModel):
    total: int
    page: int
    items: list[ContactRow]


@router.get("", response_model=ContactPage)
async def search_contacts(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=100, description="name, e-mail, phone or zip code")] = "",
    status: ContactStatus | None = None,
    archived: bool = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> ContactPage:
    wanted = service.ContactFilter(query=q, status=status or "", archived=archived, page=page)
    rows, total = await service.search_contacts(services, wanted)
    return ContactPage(total=total, page=page, items=[ContactRow.model_validate(row) for row in rows])


@router.put("/{contact_id}", response_model=ContactRow)
async def replace_contact(contact_id: int, data: service.ContactUpdate, services: ServicesDep) -> Contact:
    try:
        return await service.save_contact(services, contact_id, data)
    except service.ContactError as exc:
        raise HTTPException(404 if isinstance(exc, service.ContactNotFoundError) else 422, str(exc)) from None


@router.post("/{contact_id}/archive", response_model=ContactRow)
async def archive(contact_id: int, services: ServicesDep) -> Contact:
    return await _set(services, contact_id, archived=True)


@router.post("/{contact_id}/restore", response_model=ContactRow)
async def restore(contact_id: int, services: ServicesDep) -> Contact:
    return await _set(services, contact_id, archived=False)


async def _set(services: ServicesDep, contact_id: int, *, archived: bool) -> Contact:
    try:
        return await service.archive_contact(services, contact_id, archived)
    except service.ContactError as exc:
        raise HTTPException(404, str(exc)) from None
