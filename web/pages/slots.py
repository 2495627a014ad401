"""/slots/{token}: the prospect proposes up to five time slots (seed 001).

With a property it is a viewing page (cover photo, key data, viewing text), without one the general
appointment page; both texts are office settings. The link is checked first (a forged or spent one stores
nothing); the submission is then stored as a raw payload before anything else, then
reaches the workflow as a validated update: a forged, reused or expired link is refused, and says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from db.models import SlotRequest
from domain.links import LinkClaims
from messaging import l10n
from messaging.inquiry_mail import key_facts
from messaging.slot_mail import property_address, slot_text
from starter.services import slot_answers
from starter.services.context import Services
from web.dependencies import NowDep, ServicesDep
from web.pages.slot_form import MAX_COMMENT_CHARS, SlotForm, read_form, validate
from web.templating import templates
from workflows.slot_models import SlotAnswer

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


def problem_page(request: Request, code: str) -> HTMLResponse:
    status, title, message = PROBLEMS[code]
    headers = {"Retry-After": "60"} if status == 503 else None
    return templates.TemplateResponse(
        request, "slots/problem.html", {"title": title, "message": message}, status_code=status, headers=headers
    )


async def _claims_and_request(services: Services, token: str, now: datetime) -> tuple[LinkClaims, SlotRequest] | str:
    try:
        return await slot_answers.open_link(services, token, now)
    except slot_answers.SlotLinkRefusedError as exc:
        return exc.code


async def _form(
    request: Request, services: Services, slot_request: SlotRequest, form: SlotForm, now: datetime, status: int
) -> HTMLResponse:
    zone = ZoneInfo(services.settings.time_zone)
    shown = await slot_answers.form_data(services, slot_request)
    prop, texts = shown.property, shown.settings
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
    remote_addr = request.client.host if request.client else None
    raw_id = await slot_answers.store_submission(services, form.raw(), remote_addr)  # kept whatever happens next
    if not validate(form, now, ZoneInfo(services.settings.time_zone)).valid:
        return await _form(request, services, slot_request, form, now, 422)
    answer = SlotAnswer(nonce=claims.nonce, submission_id=raw_id, slots=form.slots)
    try:
        await slot_answers.submit_answer(services, slot_request, answer, within_seconds=UPDATE_TIMEOUT_SECONDS)
    except slot_answers.InvalidSlotsError as exc:
        form.errors.append(str(exc))  # the workflow's clock judged a slot differently
        return await _form(request, services, slot_request, form, now, 422)
    except slot_answers.SlotLinkRefusedError as exc:
        return problem_page(request, exc.code)
    zone = ZoneInfo(services.settings.time_zone)
    context = {"slots": [slot_text(s.starts_at, s.ends_at, zone) for s in form.slots], "comment": form.comment}
    return templates.TemplateResponse(request, "slots/done.html", context)
