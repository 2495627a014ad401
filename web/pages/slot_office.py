"""/slot-requests and /settings/time-slots: the office's side of seed 001.

An agent makes a time-slot request for a contact (and optionally a property), sees which slots the prospect
proposed and how the answer was routed, and picks one: the prospect then gets the confirmation with the
calendar invitation and the appointment is in the CRM. The settings page edits the page texts, the default
validity and who answers requests made through `{{ time_slot_link }}`. Requests and choices go through
starter.services.slots, the same code as the JSON API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from db.base import utcnow
from db.models import SlotRequest
from db.slot_store import MAX_VALIDITY, NewSlotRequest, SlotRequestError, SlotSettings, slot_link
from starter.services import slots as slot_service
from starter.services.context import Services
from starter.services.visibility import PropertyHiddenError
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.auth import current_user
from web.security.roles import AdminOnly, viewer
from web.security.visibility import NotVisibleError, property_condition, require_visible, slot_request_condition
from web.templating import templates
from workflows.slot_models import ChooseSlot

router = APIRouter(tags=["office"], include_in_schema=False)

LIST = "/slot-requests"
SETTINGS = "/settings/time-slots"
RESPONSE_TYPES = {"email": "E-Mail", "task": "Aufgabe", "sms": "SMS"}
RECIPIENTS = {"user": "Ein Benutzer", "contact_person": "Der Ansprechpartner der Immobilie"}
TARGETS = {"user": "Benutzer", "contact": "Ansprechpartner", "office": "Büro"}
MAX_DAYS = MAX_VALIDITY.days  # what the API and the settings accept
STATUS_LABELS = {
    "created": "angelegt",
    "waiting": "wartet auf Vorschläge",
    "answered": "Vorschläge erhalten",
    "scheduled": "Termin vereinbart",
    "expired": "abgelaufen",
    "failed": "fehlgeschlagen",
}


def _form_values(form: dict[str, list[str]]) -> dict[str, Any]:
    first = {name: values[0].strip() for name, values in form.items() if values}
    return {**first, "response_types": form.get("response_types", [])}


async def _list_page(
    request: Request, services: Services, values: dict[str, Any], error: str | None = None, status: int = 200
) -> HTMLResponse:
    current = viewer(request)
    listing = await slot_service.request_listing(
        services, visible=slot_request_condition(current), choices_visible=property_condition(current)
    )
    context: dict[str, Any] = {
        "rows": listing.rows,
        "chosen": listing.chosen,
        "values": values,
        "error": error,
        "statuses": STATUS_LABELS,
        "response_types": RESPONSE_TYPES,
        "recipients": RECIPIENTS,
        "max_days": MAX_DAYS,
        **listing.choices,
    }
    return templates.TemplateResponse(request, "slots/office_list.html", context, status_code=status)


@router.get(LIST, response_class=HTMLResponse)
async def slot_requests(request: Request, services: ServicesDep) -> HTMLResponse:
    validity = (await slot_service.slot_settings(services)).default_validity
    defaults = {"recipient": "contact_person", "response_types": ["email"], "valid_days": str(validity.days or 1)}
    return await _list_page(request, services, defaults)


def _valid_days(value: str | None) -> int:
    """The number field "valid for (days)"; ValueError with the message for the agent."""
    try:
        days = int(value or "")
    except ValueError:
        raise ValueError("Gültigkeit: bitte eine Zahl von Tagen angeben") from None
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"Gültigkeit: 1 bis {MAX_DAYS} Tage")
    return days


def _new_request(values: dict[str, Any], user_id: int | None, now: datetime) -> NewSlotRequest:
    """The form as the API's model; raises ValueError with a message for the agent."""
    days = _valid_days(values.get("valid_days"))
    if not values.get("contact_id"):
        raise ValueError("Kontakt: bitte auswählen")
    try:
        return NewSlotRequest(
            contact_id=values["contact_id"],
            property_id=values.get("property_id") or None,
            recipient=values.get("recipient") or "",
            # The user list keeps its choice when the agent switches to the contact person: ignore it then.
            recipient_user_id=(values.get("recipient_user_id") or None) if values.get("recipient") == "user" else None,
            response_types=values["response_types"],
            expires_at=now + timedelta(days=days),
            created_by_user_id=user_id,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        labels = {
            "contact_id": "Kontakt",
            "recipient": "Antwort an",
            "response_types": "Antwort per",
            "recipient_user_id": "Benutzer",
        }
        raise ValueError(f"{labels.get(field, field)}: bitte auswählen") from exc


@router.post(LIST, response_model=None)
async def create_slot_request(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    values = _form_values({name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form})
    user = current_user(request)
    try:
        data = _new_request(values, user.id if user else None, utcnow())
        if data.recipient == "user" and data.recipient_user_id is None:
            raise ValueError("Benutzer: bitte auswählen, wer antworten soll")
        current = viewer(request)
        visible = None if current.sees_all else property_condition(current)
        created = await slot_service.request_slots(services, data, utcnow(), visible)
    except PropertyHiddenError as exc:
        raise NotVisibleError from exc
    except (ValueError, SlotRequestError) as exc:
        return await _list_page(request, services, values, str(exc), status=422)
    flash(request, f"Terminanfrage #{created.request_id} angelegt; der Link geht per E-Mail an den Kontakt.")
    return RedirectResponse(f"{LIST}/{created.request_id}", status_code=303)


@router.get(
    LIST + "/{request_id}", response_class=HTMLResponse, dependencies=[require_visible(SlotRequest, "request_id")]
)
async def slot_request_detail(request: Request, request_id: int, services: ServicesDep) -> HTMLResponse:
    try:
        page = await slot_service.request_page(services, request_id)
    except slot_service.SlotRequestNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    row, user_names, people = page.row, page.user_names, page.contact_names
    delivered_to = [
        user_names.get(int(d.get("user_id") or 0))
        or people.get(int(d.get("contact_id") or 0))
        or TARGETS.get(d.get("target", ""), d.get("target", ""))
        for d in row.deliveries
    ]
    context = {
        "appointment": page.appointment,
        "mail_replies": await slot_service.mail_replies(services, request_id),
        "delivered_to": delivered_to,
        "row": row,
        "contact": page.contact,
        "property": page.property,
        "recipient_user": page.recipient,
        "proposals": page.proposals,
        "choosable": row.status == "answered" and row.chosen_position is None,
        "link": slot_link(services.settings, row),
        "statuses": STATUS_LABELS,
        "response_types": RESPONSE_TYPES,
        "recipients": RECIPIENTS,
        "targets": TARGETS,
    }
    return templates.TemplateResponse(request, "slots/office_detail.html", context)


@router.post(
    LIST + "/{request_id}/choose", response_model=None, dependencies=[require_visible(SlotRequest, "request_id")]
)
async def choose_slot(request: Request, request_id: int, services: ServicesDep) -> Response:
    form = await request.form()
    user = current_user(request)
    try:
        choice = ChooseSlot(position=int(str(form.get("position", ""))), user_id=user.id if user else None)
        done = await slot_service.choose(services, request_id, choice)
    except (ValueError, ValidationError):
        flash(request, "Bitte einen der vorgeschlagenen Termine wählen.", "error")
    except slot_service.ChoiceRefusedError as exc:
        flash(request, str(exc), "error")
    else:
        flash(
            request,
            f"Termin {choice.position} gewählt: Bestätigung mit Kalendereinladung ist verschickt."
            if done
            else f"Termin {choice.position} gewählt; die Bestätigung wird gerade verschickt.",
        )
    return RedirectResponse(f"{LIST}/{request_id}", status_code=303)


# --- settings ------------------------------------------------------------------------------------------


def _settings_page(request: Request, values: dict[str, Any], error: str | None, status: int = 200) -> HTMLResponse:
    context = {"values": values, "error": error, "response_types": RESPONSE_TYPES, "max_days": MAX_DAYS}
    return templates.TemplateResponse(request, "settings/time_slots.html", context, status_code=status)


@router.get(SETTINGS, response_class=HTMLResponse, dependencies=[AdminOnly])
async def slot_settings(request: Request, services: ServicesDep) -> HTMLResponse:
    config = await slot_service.slot_settings(services)
    values = {**config.model_dump(mode="json"), "valid_days": str(config.default_validity.days or 1)}
    return _settings_page(request, values, None)


@router.post(SETTINGS, response_model=None, dependencies=[AdminOnly])
async def save_slot_settings(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    values = _form_values({name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form})
    values["placeholder_response_types"] = form.getlist("placeholder_response_types")
    try:
        days = _valid_days(values.get("valid_days"))
        config = SlotSettings(
            viewing_text=values.get("viewing_text", ""),
            general_text=values.get("general_text", ""),
            default_validity=timedelta(days=days),
            placeholder_recipient=values.get("placeholder_recipient", ""),
            placeholder_response_types=values["placeholder_response_types"],
        )
    except ValidationError as exc:  # before ValueError: pydantic's error is one
        return _settings_page(request, values, _settings_error(exc), status=422)
    except ValueError as exc:
        return _settings_page(request, values, str(exc), status=422)
    await slot_service.save_slot_settings(services, config)
    flash(request, "Einstellungen für Terminanfragen gespeichert.")
    return RedirectResponse(SETTINGS, status_code=303)


def _settings_error(exc: ValidationError) -> str:
    labels = {
        "viewing_text": "Text der Besichtigungsseite",
        "general_text": "Text der allgemeinen Seite",
        "default_validity": "Gültigkeit",
        "placeholder_recipient": "Antwort an",
        "placeholder_response_types": "Antwort per",
    }
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    return f"{labels.get(field, field)}: {first['msg']}"
