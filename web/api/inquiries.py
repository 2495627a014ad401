"""The inquiries JSON API: intake (JSON and OpenImmo XML) and the office's list and detail views.

Intake handlers read the body themselves instead of declaring a pydantic body parameter: FastAPI would
refuse invalid JSON before we could store it, and every inbound payload must be kept, even a broken one.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from db.models import Inquiry, InquiryStatus
from starter.intake.openimmo import parse_feedback
from starter.intake.payload import InquiryPayload, parse_json
from starter.intake.service import (
    CHANNEL_JSON,
    CHANNEL_OPENIMMO,
    MAX_BODY_BYTES,
    OVERSIZE_KEPT_BYTES,
    IntakeRejected,
    IntakeResult,
    Parser,
    RawBody,
)
from starter.services.context import Services
from starter.services.inquiry_intake import intake_for
from starter.services.inquiry_views import InquiryDetail, InquiryPage, find_inquiry, inquiry_list
from web.dependencies import ServicesDep
from web.security.roles import ViewerDep
from web.security.visibility import inquiry_condition, require_visible

router = APIRouter(prefix="/api/inquiries", tags=["inquiries"])


class InquiryAccepted(BaseModel):
    id: int
    status: str
    workflow_id: str
    duplicate: bool
    workflow_started: bool | None = None
    url: str


class IntakeError(BaseModel):
    detail: str
    quarantine_id: int | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": IntakeError, "description": text}
    for status, text in {
        400: "Unreadable body (not JSON/XML, wrong encoding, refused XML constructs); kept in quarantine.",
        413: f"Body over {MAX_BODY_BYTES // 1024} KiB; its first {OVERSIZE_KEPT_BYTES // 1024} KiB kept in quarantine.",
        422: "Readable, but not a valid inquiry (e.g. missing or malformed email); kept in quarantine.",
        503: "Database unavailable; retry after the Retry-After seconds.",
    }.items()
}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {"model": InquiryAccepted, "description": "Known already (same source and external_id): the existing one."},
    201: {"model": InquiryAccepted, "description": "New inquiry; its workflow is running."},
    202: {"model": InquiryAccepted, "description": "New inquiry, stored; its workflow starts once Temporal is back."},
}


@router.post(
    "",
    summary="Submit a portal inquiry (JSON)",
    status_code=201,
    responses={**_ACCEPTED, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": InquiryPayload.model_json_schema()}},
        }
    },
)
async def submit_inquiry(request: Request, services: ServicesDep) -> JSONResponse:
    parser = partial(parse_json, time_zone=services.settings.time_zone)
    return await _intake(request, services, CHANNEL_JSON, parser)


@router.post(
    "/openimmo",
    summary="Submit a portal inquiry (OpenImmo-Feedback XML)",
    status_code=201,
    responses={**_ACCEPTED, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One <openimmo_feedback> document with one <objekt>/<interessent>.",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    },
)
async def submit_openimmo(
    request: Request,
    services: ServicesDep,
    mailbox: Annotated[str | None, Query(description="The mailbox the document arrived in.")] = None,
    source: Annotated[str | None, Query(description="Portal name; default: the document's <sender><name>.")] = None,
) -> JSONResponse:
    parser = partial(parse_feedback, source=source, mailbox=mailbox, time_zone=services.settings.time_zone)
    return await _intake(request, services, CHANNEL_OPENIMMO, parser)


@router.get("", summary="List inquiries, newest first")
async def list_inquiries(
    services: ServicesDep,
    viewer: ViewerDep,
    status: Annotated[list[InquiryStatus] | None, Query(description="One or more statuses.")] = None,
    portal: Annotated[str | None, Query(description="Source portal, e.g. immobilienscout24.")] = None,
    property_ref: Annotated[str | None, Query(description="Property number, e.g. W-1001.")] = None,
    include_ignored: Annotated[
        bool, Query(description="Ignored inquiries (property not in marketing) are hidden unless asked for.")
    ] = False,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InquiryPage:
    return await inquiry_list(
        services,
        statuses=[str(value) for value in status or []],
        portal=portal,
        property_ref=property_ref,
        include_ignored=include_ignored,
        page=page,
        page_size=page_size,
        visible=inquiry_condition(viewer),
    )


@router.get(
    "/{inquiry_id}",
    dependencies=[require_visible(Inquiry, "inquiry_id")],
    summary="One inquiry: status, contact, property, timeline, messages",
)
async def get_inquiry(inquiry_id: int, services: ServicesDep) -> InquiryDetail:
    detail = await find_inquiry(services, inquiry_id)
    if detail is None:
        raise HTTPException(404, f"Inquiry {inquiry_id} does not exist.")
    return detail


async def _intake(request: Request, services: Services, channel: str, parse: Parser) -> JSONResponse:
    intake = intake_for(services)
    data, declared_length, oversized = await _read_body(request)
    raw = RawBody(
        channel=channel,
        data=data,
        content_type=request.headers.get("content-type"),
        remote_addr=request.client.host if request.client else None,
    )
    try:
        if oversized:
            await intake.reject_oversized(raw, declared_length=declared_length)
        result = await intake.submit(raw, parse)
    except IntakeRejected as rejected:
        return JSONResponse(
            {"detail": rejected.reason, "quarantine_id": rejected.quarantine_id}, status_code=rejected.status_code
        )
    return JSONResponse(
        _accepted(result, services.settings.public_base_url).model_dump(), status_code=_status_code(result)
    )


async def _read_body(request: Request) -> tuple[bytes, int | None, bool]:
    """(body, declared Content-Length, oversized). Stops reading once the limit is passed."""
    header = request.headers.get("content-length", "")
    declared = int(header) if header.isdigit() else None
    # An announced oversize is refused after its first KiBs: no need to receive a megabyte we won't keep.
    budget = OVERSIZE_KEPT_BYTES if declared is not None and declared > MAX_BODY_BYTES else MAX_BODY_BYTES
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        received += len(chunk)
        if received > budget:
            break
    oversized = received > MAX_BODY_BYTES or (declared is not None and declared > MAX_BODY_BYTES)
    return b"".join(chunks), declared, oversized


def _accepted(result: IntakeResult, base_url: str) -> InquiryAccepted:
    return InquiryAccepted(
        id=result.inquiry_id,
        status=result.status,
        workflow_id=result.workflow_id,
        duplicate=result.duplicate,
        workflow_started=result.workflow_started,
        url=f"{base_url}/api/inquiries/{result.inquiry_id}",
    )


def _status_code(result: IntakeResult) -> int:
    if result.duplicate:
        return 200
    return 202 if result.workflow_started is None else 201
