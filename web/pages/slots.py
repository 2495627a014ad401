"""/slots/{token}: the prospect proposes up to five time slots (seed 001).

With a property it is a viewing page (cover photo, key data, viewing text), without one the general
appointment page; both texts are office settings. The link is checked first (a forged or spent one stores
nothing); the submission is then stored as a raw payload before anything else, then
reaches the workflow as a validated update: a forged, reused or expired link is refused, and says so.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Property, RawPayload, SlotRequest, SlotRequestStatus
from db.slot_store import load_slot_settings
from domain.links import LinkClaims, LinkError, LinkSigner
from messaging import l10n
from messaging.inquiry_mail import key_facts
from messaging.slot_mail import property_address, slot_text
from starter.services.context import Services
from starter.temporal.slots import slot_handle
from web.dependencies import NowDep, ServicesDep
from web.pages.slot_form import MAX_COMMENT_CHARS, SlotForm, read_form, validate
from web.templating import templates
from workflows.slot_models import SLOT_PURPOSE, SlotAnswer
from workflows.slot_request import TimeSlotRequestWorkflow

router = APIRouter(tags=["prospect pages"], include_in_schema=False)

PROBLEMS: dict[str, tuple[int, str, str]] = {
    "invalid": (404, "Link ungültig", "Dieser Link ist ungültig. Bitte verwenden Sie den Link aus Ihrer E-Mail."),
    "expired": (
        410,
        "Link abgelaufen",
        "Dieser Link ist abgelaufen. Wenn Sie weiterhin einen Termin wünschen, antworten Sie bitte auf unsere E-Mail.",
    ),
    "used": (
        409,
        "Bereits beantwortet",
        "Sie haben uns für diese Anfrage bereits Termine vorgeschlagen – vielen Dank! Wir melden uns bei Ihnen.",
    ),
    "unavailable": (
        503,
        "Kurz nicht erreichbar",
        "Wir können Ihre Terminvorschläge gerade nicht annehmen. Bitte versuchen Sie es in ein paar Minuten erneut.",
    ),
}
# The submit update checks and records the answer: milliseconds with a worker; past this none runs, and the
# prospect gets a page saying so (503 + Retry-After) instead of a browser spinning on.
UPDATE_TIMEOUT_SECONDS = 10.0
NOT_READY_PAUSE_SECONDS = 0.2  # the workflow loads its request in one quick activity
UPDATE_REJECTIONS = {"LinkInvalid": "invalid", "LinkUsed": "used", "LinkExpired": "expired", "NotReady": "unavailable"}
ANSWERED = (SlotRequestStatus.ANSWERED, SlotRequestStatus.SCHEDULED)


def problem_page(request: Request, code: str) -> HTMLResponse:
    status, title, message = PROBLEMS[code]
    headers = {"Retry-After": "60"} if status == 503 else None
    return templates.TemplateResponse(
        request, "slots/problem.html", {"title": title, "message": message}, status_code=status, headers=headers
    )


async def _claims_and_request(services: Services, token: str, now: datetime) -> tuple[LinkClaims, SlotRequest] | str:
    try:
        claims = LinkSigner(services.settings.effective_secret_key()).verify(SLOT_PURPOSE, token, now=now.timestamp())
    except LinkError as exc:
        return exc.code
    async with services.sessions() as session:
        slot_request = await session.scalar(select(SlotRequest).where(SlotRequest.workflow_id == claims.workflow_id))
    if slot_request is None or slot_request.link_nonce != claims.nonce:
        return "invalid"
    if slot_request.status in ANSWERED or slot_request.submission_id is not None:
        return "used"
    if slot_request.status in (SlotRequestStatus.EXPIRED, SlotRequestStatus.FAILED) or slot_request.expires_at < now:
        return "expired"
    return claims, slot_request


async def _form(
    request: Request, services: Services, slot_request: SlotRequest, form: SlotForm, now: datetime, status: int
) -> HTMLResponse:
    zone = ZoneInfo(services.settings.time_zone)
    async with services.sessions() as session:
        prop = await session.get(Property, slot_request.property_id) if slot_request.property_id else None
        texts = await load_slot_settings(session)
    context: dict[str, Any] = {
        "form": form,
        "rows": form.display_rows(),
        "max_comment": MAX_COMMENT_CHARS,
        "is_viewing": prop is not None,
        "text": texts.viewing_text if prop else texts.general_text,
        "property": prop,
        "facts": key_facts(prop) if prop else [],
        "address": property_address(prop) if prop else "",
        "min_date": now.astimezone(zone).date().isoformat(),
        "valid_until": l10n.day_time(slot_request.expires_at, zone),
        "time_zone_name": services.settings.time_zone,
    }
    return templates.TemplateResponse(request, "slots/form.html", context, status_code=status)


@router.get("/slots/{token}", response_class=HTMLResponse)
async def slot_form(request: Request, token: str, services: ServicesDep, now: NowDep) -> HTMLResponse:
    found = await _claims_and_request(services, token, now)
    if isinstance(found, str):
        return problem_page(request, found)
    return await _form(request, services, found[1], SlotForm(rows=[]), now, 200)


@router.post("/slots/{token}", response_class=HTMLResponse)
async def submit_slots(request: Request, token: str, services: ServicesDep, now: NowDep) -> HTMLResponse:
    # The link first: a forged or spent link stores nothing (the body is capped in web.security.limits).
    found = await _claims_and_request(services, token, now)
    if isinstance(found, str):
        return problem_page(request, found)
    claims, slot_request = found
    posted = await request.form()
    form = read_form({key: [str(v) for v in posted.getlist(key)] for key in posted})
    async with services.sessions.begin() as session:  # kept whatever happens next
        raw = RawPayload(
            channel="slots-form",
            content_type="application/json",
            body=json.dumps(form.raw(), ensure_ascii=False),
            remote_addr=request.client.host if request.client else None,
        )
        session.add(raw)
    if not validate(form, now, ZoneInfo(services.settings.time_zone)).valid:
        return await _form(request, services, slot_request, form, now, 422)
    answer = SlotAnswer(nonce=claims.nonce, submission_id=raw.id, slots=form.slots)
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
            await _submit(services, slot_request, answer)
    except (
        TimeoutError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ):  # no worker answers: the answer is stored, the prospect may try again
        return problem_page(request, "unavailable")
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        if kind == "InvalidSlots" and isinstance(cause, ApplicationError):
            form.errors.append(cause.message)  # the workflow's clock judged a slot differently
            return await _form(request, services, slot_request, form, now, 422)
        return problem_page(request, UPDATE_REJECTIONS.get(kind or "", "invalid"))
    except RPCError as exc:
        not_started = slot_request.status == SlotRequestStatus.CREATED
        gone = exc.status == RPCStatusCode.NOT_FOUND and not not_started
        return problem_page(request, "expired" if gone else "unavailable")
    except RuntimeError:  # Temporal not reachable at all
        return problem_page(request, "unavailable")
    zone = ZoneInfo(services.settings.time_zone)
    context = {"slots": [slot_text(s.starts_at, s.ends_at, zone) for s in form.slots], "comment": form.comment}
    return templates.TemplateResponse(request, "slots/done.html", context)


async def _submit(services: Services, slot_request: SlotRequest, answer: SlotAnswer) -> None:
    """Send the answer; a link handed out a moment ago finds its workflow not started or not ready yet,
    so those two refusals are retried (within the caller's timeout) instead of turning the prospect away."""
    client = await services.temporal()
    while True:
        try:
            await slot_handle(client, slot_request.id).execute_update(TimeSlotRequestWorkflow.submit, answer)
            return
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "NotReady"):
                raise
        except RPCError as exc:
            if not (exc.status == RPCStatusCode.NOT_FOUND and slot_request.status == SlotRequestStatus.CREATED):
                raise
        await asyncio.sleep(NOT_READY_PAUSE_SECONDS)
