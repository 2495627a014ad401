"""JSON API of the time-slot requests (seed 001) and their settings.

POST /api/slot-requests makes the request and its `slot_request.created` event in one transaction, then
starts `slots-<id>`; if Temporal is down at that moment, the dispatcher starts it from the event.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from db.models import SlotRequest
from db.slot_store import NewSlotRequest, SlotRequestError, SlotSettings, slot_link
from domain.slot_routing import Delivery
from settings import Settings
from starter.services import slots as slot_service
from starter.services.context import Services
from starter.services.visibility import PropertyHiddenError
from web.dependencies import NowDep, ServicesDep
from web.security.roles import AdminOnly, ViewerDep
from web.security.visibility import NotVisibleError, property_condition, require_visible, slot_request_condition
from workflows.slot_models import ChooseSlot

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["time slots"])


class ProposalOut(BaseModel):
    position: int
    starts_at: datetime
    ends_at: datetime


class SlotRequestOut(BaseModel):
    id: int
    workflow_id: str | None
    status: str
    reason: str | None
    contact_id: int
    property_id: int | None
    recipient: str
    recipient_user_id: int | None
    response_types: list[str]
    expires_at: datetime
    link: str
    inquiry_id: int | None
    created_at: datetime
    answered_at: datetime | None
    comment: str | None
    proposals: list[ProposalOut]
    deliveries: list[Delivery]
    chosen_position: int | None
    appointment_id: int | None
    workflow_started: bool | None = None


def _out(settings: Settings, found: slot_service.SlotRequestView) -> SlotRequestOut:
    row = found.row
    return SlotRequestOut(
        id=row.id,
        workflow_id=row.workflow_id,
        status=row.status,
        reason=row.reason,
        contact_id=row.contact_id,
        property_id=row.property_id,
        recipient=row.recipient_kind,
        recipient_user_id=row.recipient_user_id,
        response_types=list(row.response_types),
        expires_at=row.expires_at,
        link=slot_link(settings, row),
        inquiry_id=row.inquiry_id,
        created_at=row.created_at,
        answered_at=row.answered_at,
        comment=row.comment,
        proposals=[ProposalOut(position=p.position, starts_at=p.starts_at, ends_at=p.ends_at) for p in found.proposals],
        deliveries=[Delivery.model_validate(d) for d in row.deliveries],
        chosen_position=row.chosen_position,
        appointment_id=row.appointment_id,
    )


async def _get(services: Services, request_id: int) -> SlotRequestOut:
    try:
        found = await slot_service.show_request(services, request_id)
    except slot_service.SlotRequestNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return _out(services.settings, found)


@router.post("/slot-requests", status_code=201)
async def create_request(data: NewSlotRequest, services: ServicesDep, now: NowDep, viewer: ViewerDep) -> SlotRequestOut:
    try:
        visible = None if viewer.sees_all else property_condition(viewer)
        created = await slot_service.request_slots(services, data, now, visible)
    except PropertyHiddenError as exc:
        raise NotVisibleError from exc
    except SlotRequestError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    result = await _get(services, created.request_id)
    result.workflow_started = created.workflow_started
    return result


@router.get("/slot-requests")
async def list_requests(
    services: ServicesDep,
    viewer: ViewerDep,
    contact_id: int | None = None,
    property_id: int | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SlotRequestOut]:
    found = await slot_service.find_requests(
        services,
        visible=slot_request_condition(viewer),
        contact_id=contact_id,
        property_id=property_id,
        status=status,
        limit=limit,
    )
    return [_out(services.settings, item) for item in found]


@router.get("/slot-requests/{request_id}", dependencies=[require_visible(SlotRequest, "request_id")])
async def get_request(request_id: int, services: ServicesDep) -> SlotRequestOut:
    return await _get(services, request_id)


@router.post(
    "/slot-requests/{request_id}/choose",
    response_model=SlotRequestOut,
    dependencies=[require_visible(SlotRequest, "request_id")],
)
async def choose_slot(request_id: int, choice: ChooseSlot, services: ServicesDep) -> SlotRequestOut | JSONResponse:
    """The agent picks one proposal: appointment + confirmation mail with .ics to the prospect."""
    await _get(services, request_id)  # 404 for an unknown request
    try:
        done = await slot_service.choose(services, request_id, choice)
    except slot_service.ChoiceRefusedError as exc:
        headers = {"Retry-After": "60"} if exc.status == 503 else None
        raise HTTPException(exc.status, str(exc), headers=headers) from exc
    result = await _get(services, request_id)
    return result if done else JSONResponse(result.model_dump(mode="json"), status_code=202)


@router.get("/settings/time-slots", dependencies=[AdminOnly])
async def get_slot_settings(services: ServicesDep) -> SlotSettings:
    return await slot_service.slot_settings(services)


@router.put("/settings/time-slots", dependencies=[AdminOnly])
async def put_slot_settings(config: SlotSettings, services: ServicesDep) -> SlotSettings:
    """Page texts apply at once; the validity applies to requests made after the change."""
    await slot_service.save_slot_settings(services, config)
    return config
