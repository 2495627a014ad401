"""/leads: the office's view of the leads and their overdue state (seed 004), where reminder mails link to.

The list shows every open lead with its phase, since when it is in it and whether it is overdue; a lead's
page shows the same as its workflow sees it (overdue since, the reminders sent), its tasks and appointments,
and the three things that end an overdue episode or the lead: move it to another phase, add a task, close
it. Every write goes through starter.services.leads with its domain event, as the JSON API does, so the
lead's workflow hears of it through the dispatcher.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from db.base import utcnow
from db.models import Lead
from starter.services import leads as lead_service
from starter.services.context import Services
from starter.services.lead_inputs import NewLead, TaskInput
from starter.services.visibility import PropertyHiddenError
from web.api.leads import lead_out
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.auth import current_user
from web.security.roles import viewer
from web.security.visibility import NotVisibleError, lead_condition, property_condition, require_visible
from web.templating import templates

router = APIRouter(tags=["office"], include_in_schema=False)


@router.get("/leads", response_class=HTMLResponse)
async def leads(request: Request, services: ServicesDep, overdue: bool = False, closed: bool = False) -> HTMLResponse:
    now = utcnow()
    current = viewer(request)
    listing = await lead_service.lead_listing(
        services, visible=lead_condition(current), include_closed=closed, choices_visible=property_condition(current)
    )
    rows: list[dict[str, Any]] = []
    for row in listing.rows:
        snapshot, state = row.snapshot, lead_out(row.snapshot, now)
        if overdue and not state.overdue:
            continue
        rows.append(
            {"lead": snapshot.lead, "contact": row.contact, "phase": snapshot.phase, "taker": row.taker, "state": state}
        )
    context = {"rows": rows, "overdue": overdue, "closed": closed, **listing.choices}
    return templates.TemplateResponse(request, "leads/list.html", context)


@router.post("/leads", response_model=None)
async def create_lead(request: Request, services: ServicesDep) -> Response:
    """A new lead from the list page's form; the lead taker defaults to the agent who makes it."""
    form = await _form(request)
    user = current_user(request)
    try:
        data = NewLead(
            title=form.get("title", ""),
            contact_id=form.get("contact_id") or None,
            property_id=form.get("property_id") or None,
            process_id=form.get("process_id") or None,
            taker_user_id=form.get("taker_user_id") or (user.id if user else None),
        )
        current = viewer(request)
        visible = None if current.sees_all else property_condition(current)
        try:
            created = await lead_service.open_lead(services, data, utcnow(), visible)
        except PropertyHiddenError as exc:
            raise NotVisibleError from exc
        lead_id = created.lead.id
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        labels = {
            "title": "Titel",
            "contact_id": "Kontakt",
            "process_id": "Vertriebsprozess",
            "taker_user_id": "Leadnehmer",
        }
        flash(request, f"{labels.get(field, field)}: bitte angeben.", "error")
        return RedirectResponse("/leads", status_code=303)
    except lead_service.LeadError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/leads", status_code=303)
    flash(request, f"Lead „{data.title}“ angelegt; sein Workflow überwacht ab jetzt die Frist der ersten Phase.")
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


async def _lead_context(services: Services, lead_id: int) -> dict[str, Any]:
    now = utcnow()
    try:
        page = await lead_service.lead_page(services, lead_id)
    except lead_service.NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    state = lead_out(page.snapshot, now)
    return {
        "next_phase_id": page.next_phase_id,
        "lead": page.snapshot.lead,
        "state": state,
        "contact": page.contact,
        "property": page.property,
        "taker": page.taker,
        "process": page.process,
        "phases": page.phases,
        "tasks": page.tasks,
        "appointments": page.appointments,
        "reminders": page.reminders,
        "now": now,
        "workflow_url": services.settings.workflow_ui_url(state.workflow_id),
    }


@router.get("/leads/{lead_id}", response_class=HTMLResponse, dependencies=[require_visible(Lead, "lead_id")])
async def lead_detail(request: Request, lead_id: int, services: ServicesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "leads/detail.html", await _lead_context(services, lead_id))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value.strip() for key, value in form.items() if isinstance(value, str)}


def _back(lead_id: int) -> RedirectResponse:
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


@router.post("/leads/{lead_id}/phase", response_model=None, dependencies=[require_visible(Lead, "lead_id")])
async def move_lead(request: Request, lead_id: int, services: ServicesDep) -> Response:
    form = await _form(request)
    try:
        moved = await lead_service.move_lead(services, lead_id, int(form.get("phase_id") or 0), utcnow())
        name = moved.phase.name
    except (lead_service.LeadError, ValueError) as exc:
        flash(request, str(exc) if isinstance(exc, lead_service.LeadError) else "Bitte eine Phase wählen.", "error")
    else:
        flash(request, f"Lead ist jetzt in der Phase „{name}“; ihre Frist beginnt jetzt.")
    return _back(lead_id)


@router.post("/leads/{lead_id}/tasks", response_model=None, dependencies=[require_visible(Lead, "lead_id")])
async def add_task(request: Request, lead_id: int, services: ServicesDep) -> Response:
    form = await _form(request)
    try:
        due = _office_time(form.get("due_at", ""), services.settings.time_zone)
        data = TaskInput(title=form.get("title", ""), body=form.get("body") or None, due_at=due)
        await lead_service.file_task(services, lead_id, data, utcnow())
    except ValidationError as exc:
        if any("due_at" in error["loc"] for error in exc.errors()):
            flash(request, "Fällig am: bitte einen Zeitpunkt in den Jahren 1900 bis 2100 angeben.", "error")
        else:
            flash(request, "Die Aufgabe braucht einen Titel (höchstens 300 Zeichen).", "error")
    except ValueError:
        flash(request, "Fällig am: bitte Datum und Uhrzeit angeben.", "error")
    except lead_service.LeadError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, "Aufgabe angelegt; bis sie fällig ist, gibt es keine Erinnerungen.")
    return _back(lead_id)


@router.post("/leads/{lead_id}/close", response_model=None, dependencies=[require_visible(Lead, "lead_id")])
async def close_lead(request: Request, lead_id: int, services: ServicesDep) -> Response:
    try:
        await lead_service.end_lead(services, lead_id, utcnow())
    except lead_service.LeadError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, "Lead geschlossen; es gibt keine Erinnerungen mehr.")
    return _back(lead_id)


def _office_time(value: str, time_zone: str) -> datetime | None:
    """`2026-11-24T09:00` from a datetime-local field, in the office's time zone; '' is no time."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(time_zone))
