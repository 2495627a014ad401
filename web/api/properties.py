"""GET /api/properties and /api/properties/{id}: the office's properties for scripts and integrations.

The same filters as the list page (web/pages/properties.py); importing is POST /api/properties/import
(admin, web/pages/property_admin.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from db.models import MarketingStatus
from starter.services.properties import PropertyDetail, PropertyFilter, get_property_detail, search_properties
from web.dependencies import ServicesDep

router = APIRouter(prefix="/api/properties", tags=["properties"])


class ContactPersonOut(BaseModel):
    position: int
    contact_id: int
    user_id: int | None
    name: str


class PropertyOut(BaseModel):
    id: int
    external_ref: str
    title: str
    marketing_status: str
    archived: bool
    visible_to_all: bool
    manager_user_id: int | None
    property_type: str | None
    rooms: Decimal | None
    living_area: Decimal | None
    price: Decimal | None
    street: str | None
    zip_code: str | None
    city: str | None
    key_data: dict[str, Any]
    cover_image_url: str | None
    expose_url: str | None
    has_expose_file: bool
    source: str | None
    created_at: datetime
    updated_at: datetime | None


class PropertyDetailOut(PropertyOut):
    texts: dict[str, Any]
    images: list[str]
    visible_user_ids: list[int]
    contact_persons: list[ContactPersonOut]
    inquiries: int
    open_leads: int


class PropertyPage(BaseModel):
    total: int
    page: int
    items: list[PropertyOut]


def _out(prop: Any) -> dict[str, Any]:
    fields = {name: getattr(prop, name) for name in PropertyOut.model_fields if name != "has_expose_file"}
    return {**fields, "has_expose_file": prop.expose_file is not None}


@router.get("", response_model=PropertyPage)
async def properties(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=100)] = "",
    status: MarketingStatus | None = None,
    manager_user_id: int | None = None,
    visible_to_user_id: int | None = None,
    archived: bool = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> PropertyPage:
    wanted = PropertyFilter(
        query=q,
        status=status or "",
        manager_user_id=manager_user_id,
        visible_to_user_id=visible_to_user_id,
        archived=archived,
        page=page,
    )
    rows, total = await search_properties(services, wanted)
    return PropertyPage(total=total, page=page, items=[PropertyOut(**_out(row.prop)) for row in rows])


@router.get("/{property_id}", response_model=PropertyDetailOut)
async def get_property(property_id: int, services: ServicesDep) -> PropertyDetailOut:
    detail: PropertyDetail | None = await get_property_detail(services, property_id)
    if detail is None:
        raise HTTPException(404, f"Objekt #{property_id} existiert nicht")
    return PropertyDetailOut(
        **_out(detail.prop),
        texts=detail.prop.texts,
        images=detail.prop.images,
        visible_user_ids=[user.id for user in detail.visible_users],
        contact_persons=[
            ContactPersonOut(
                position=person.position,
                contact_id=person.contact.id,
                user_id=person.contact.user_id,
                name=person.user.name if person.user else person.contact.display_name,
            )
            for person in detail.contact_persons
        ],
        inquiries=detail.inquiries,
        open_leads=detail.open_leads,
    )
