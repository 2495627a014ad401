"""/confirm/{token}: the prospect confirms the email address and completes the address data (seed 002).

The link is checked first (a forged or spent link stores nothing); then the submission is stored as a raw
payload before anything else; the workflow then receives it as a validated update, so a
forged, foreign, reused or expired link is refused before anything enters history, and the page says why.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.crm import ConfirmedAddress
from db.models import Inquiry, InquiryStatus, Property, RawPayload
from domain.links import LinkClaims, LinkError, LinkSigner
from messaging.inquiry_mail import CONFIRM_PURPOSE
from starter.services.context import Services
from starter.temporal.inquiries import inquiry_handle
from web.dependencies import ServicesDep
from web.pages import confirm_legal
from web.templating import templates
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import ConfirmationInput

router = APIRouter(tags=["prospect pages"], include_in_schema=False)

FORM_FIELDS = (
    "salutation",
    "first_name",
    "last_name",
    "street",
    "zip_code",
    "city",
    "phone",
    "newsletter",
    "early_start",
)
LABELS = {
    "first_name": "Vorname",
    "last_name": "Nachname",
    "zip_code": "PLZ",
    "city": "Ort",
    "street": "Straße",
    "phone": "Telefon",
    "salutation": "Anrede",
}
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "invalid": (
        404,
        "Link ungültig",
        "Dieser Bestätigungslink ist ungültig. Bitte verwenden Sie den Link aus Ihrer E-Mail.",
    ),
    "expired": (
        410,
        "Link abgelaufen",
        "Dieser Bestätigungslink ist abgelaufen. Bitte stellen Sie Ihre Anfrage erneut.",
    ),
    "used": (409, "Bereits bestätigt", "Diese Anfrage wurde bereits bestätigt. Das Exposé ist unterwegs zu Ihnen."),
    "unavailable": (
        503,
        "Kurz nicht erreichbar",
        "Wir können Ihre Bestätigung gerade nicht annehmen. Bitte versuchen Sie es in ein paar Minuten erneut.",
    ),
}
CLOSED = frozenset(
    {InquiryStatus.EXPIRED, InquiryStatus.CANCELLED, InquiryStatus.FAILED, InquiryStatus.IGNORED, InquiryStatus.SKIPPED}
)
# The confirm update only records the submission: with a worker it answers in milliseconds; past this
# none runs, and the prospect gets a page saying so (503 + Retry-After) instead of a browser spinning on.
UPDATE_TIMEOUT_SECONDS = 10.0
UPDATE_REJECTIONS = {"LinkInvalid": "invalid", "LinkUsed": "used", "LinkExpired": "expired"}


def problem_page(request: Request, code: str) -> HTMLResponse:
    status, title, message = PROBLEMS[code]
    headers = {"Retry-After": "60"} if status == 503 else None
    return templates.TemplateResponse(
        request, "confirm/problem.html", {"title": title, "message": message}, status_code=status, headers=headers
    )


async def _claims_and_inquiry(services: Services, token: str) -> tuple[LinkClaims, Inquiry] | str:
    try:
        claims = LinkSigner(services.settings.effective_secret_key()).verify(CONFIRM_PURPOSE, token)
    except LinkError as exc:
        return exc.code
    async with services.sessions() as session:
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.workflow_id == claims.workflow_id))
    if inquiry is None:
        return "invalid"
    # Only final states turn the prospect away here; the workflow's update validator has the last word.
    # (The mail can arrive before the status row says "waiting": a quick click must still get the form.)
    if inquiry.status in (InquiryStatus.COMPLETED, InquiryStatus.ABORTED) or inquiry.contact_id is not None:
        return "used"
    if inquiry.status in CLOSED:
        return "expired"
    return claims, inquiry


async def _form(
    request: Request, services: Services, inquiry: Inquiry, values: dict[str, Any], errors: dict[str, str], status: int
) -> HTMLResponse:
    async with services.sessions() as session:
        prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
        legal = await confirm_legal.legal_context(session, prop, inquiry.property_ref)
    context = {
        "legal": legal,
        "values": values,
        "errors": errors,
        "labels": LABELS,
        "email": inquiry.email,
        "property_title": prop.title if prop else (inquiry.property_ref or "die Immobilie"),
        "property_ref": prop.external_ref if prop else inquiry.property_ref,
    }
    return templates.TemplateResponse(request, "confirm/form.html", context, status_code=status)


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirmation_form(request: Request, token: str, services: ServicesDep) -> HTMLResponse:
    found = await _claims_and_inquiry(services, token)
    if isinstance(found, str):
        return problem_page(request, found)
    _, inquiry = found
    return await _form(request, services, inquiry, dict(inquiry.prospect), {}, 200)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str, services: ServicesDep) -> HTMLResponse:
    # The link first: a forged or spent link stores nothing (the body is capped in web.security.limits).
    found = await _claims_and_inquiry(services, token)
    if isinstance(found, str):
        return problem_page(request, found)
    claims, inquiry = found
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    values["newsletter"] = values["newsletter"] == "1"
    values["early_start"] = values["early_start"] == "1"
    async with services.sessions.begin() as session:  # kept whatever happens next
        raw = RawPayload(
            channel="confirm-form",
            content_type="application/json",
            body=json.dumps(values),
            remote_addr=request.client.host if request.client else None,
        )
        session.add(raw)
    try:
        ConfirmedAddress.model_validate({**values, "email": inquiry.email})
    except ValidationError as exc:
        errors = {str(error["loc"][0]): _german(error) for error in exc.errors()}
        return await _form(request, services, inquiry, values, errors, 422)
    # Before the update: the workflow reads the early-start request when it decides about the exposé.
    consent_ids = await confirm_legal.record_declarations(services, request, inquiry, values, raw.id)
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
            client = await services.temporal()
            await inquiry_handle(client, claims.workflow_id).execute_update(
                InquiryWorkflow.confirm, ConfirmationInput(nonce=claims.nonce, submission_id=raw.id)
            )
    except (
        TimeoutError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ):  # no worker answers: the submission is stored, the prospect may try again
        return problem_page(request, "unavailable")
    except WorkflowUpdateFailedError as exc:
        await confirm_legal.withdraw_declarations(services, consent_ids)
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        return problem_page(request, UPDATE_REJECTIONS.get(kind or "", "invalid"))
    except RPCError as exc:
        await confirm_legal.withdraw_declarations(services, consent_ids)
        return problem_page(request, "expired" if exc.status == RPCStatusCode.NOT_FOUND else "unavailable")
    except RuntimeError:  # Temporal not reachable at all
        await confirm_legal.withdraw_declarations(services, consent_ids)
        return problem_page(request, "unavailable")
    async with services.sessions() as session:
        prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
    title = prop.title if prop else (inquiry.property_ref or "die Immobilie")
    context = {"property_title": title, "newsletter": values["newsletter"]}
    return templates.TemplateResponse(request, "confirm/done.html", context)


def _german(error: Any) -> str:
    kind = str(error.get("type", ""))
    if kind in ("missing", "string_too_short"):
        return "bitte ausfüllen"
    if kind == "string_too_long":
        return "zu lang"
    if kind == "string_pattern_mismatch":
        return "ungültiges Format"
    return str(error.get("msg", "ungültig"))
