"""/sales-processes: the admins' editor of sales processes (seed 004): phases with durations, reminders.

The form is the JSON API's SalesProcessInput in rows: each phase row keeps its id, so leads stay in their
phase when it is renamed or moved; a row marked "entfernen" drops the phase (refused while leads use it);
empty rows at the end add phases. Writes go through starter.services.leads with `sales_process.changed`,
so running leads reload their settings at once, as with the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from db.models import SalesProcess
from starter.services import leads as lead_service
from starter.services.lead_inputs import Duration, SalesProcessInput
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.roles import AdminOnly
from web.templating import templates
from web.texts import t

router = APIRouter(prefix="/sales-processes", tags=["office"], include_in_schema=False, dependencies=[AdminOnly])

UNITS = {"hours": "Stunden", "days": "Tage", "weeks": "Wochen"}
EMPTY_ROWS = 3  # room for new phases below the existing ones
MAX_ROWS = 50


def phase_rows(process: SalesProcess | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for phase in sorted(process.phases, key=lambda p: p.position) if process else []:
        duration = Duration.of_seconds(phase.duration_seconds)
        rows.append(
            {
                "id": phase.id,
                "name": phase.name,
                "value": duration.value if duration else "",
                "unit": duration.unit if duration else "days",
            }
        )
    return rows + [{"id": None, "name": "", "value": "", "unit": "days"} for _ in range(EMPTY_ROWS)]


def parse_form(form: FormData) -> tuple[SalesProcessInput | None, dict[str, Any], str | None]:
    """(input or None, the values to show again, the error in German)."""
    ids, names = form.getlist("phase_id"), form.getlist("phase_name")
    values, units, removed = form.getlist("phase_value"), form.getlist("phase_unit"), set(form.getlist("phase_remove"))
    rows: list[dict[str, Any]] = []
    phases: list[dict[str, Any]] = []
    for n in range(min(len(names), MAX_ROWS)):
        # getlist holds str or UploadFile; this form has no file field, so str() is the value.
        raw_id = str(ids[n]) if n < len(ids) else ""
        row = {
            "id": int(raw_id) if raw_id.isdigit() else None,
            "name": str(names[n]).strip(),
            "value": str(values[n]).strip() if n < len(values) else "",
            "unit": str(units[n]) if n < len(units) else "days",
        }
        rows.append(row)
        if not row["name"] or (raw_id and raw_id in removed):
            continue
        phase: dict[str, Any] = {"id": row["id"], "name": row["name"]}
        value = str(row["value"])
        if value:
            if not value.isdigit():
                return None, _shown(form, rows), f"Phase „{row['name']}“: die Dauer ist eine ganze Zahl."
            phase["duration"] = {"value": int(value), "unit": row["unit"]}
        phases.append(phase)
    shown = _shown(form, rows)
    try:
        data = SalesProcessInput.model_validate(
            {
                "name": str(form.get("name") or "").strip(),
                "phases": phases,
                "reminders": {
                    "enabled": form.get("reminders_enabled") == "on",
                    "interval": str(form.get("reminder_interval") or "1"),
                    "unit": str(form.get("reminder_unit") or "weeks"),
                },
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        labels = {"name": "Name", "phases": "Phasen", "reminders.interval": "Erinnerungsintervall"}
        message = first["msg"].removeprefix("Value error, ")
        if where == "phases" and first["type"] == "too_short":
            message = "mindestens eine Phase angeben"
        return None, shown, f"{labels.get(where, where) or 'Eingabe'}: {message}"
    return data, shown, None


def _shown(form: FormData, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": form.get("name") or "",
        "reminders_enabled": form.get("reminders_enabled") == "on",
        "reminder_interval": form.get("reminder_interval") or "1",
        "reminder_unit": form.get("reminder_unit") or "weeks",
        "rows": [*rows, {"id": None, "name": "", "value": "", "unit": "days"}],
    }


def _values(process: SalesProcess | None) -> dict[str, Any]:
    return {
        "name": process.name if process else "",
        "reminders_enabled": process.reminders_enabled if process else False,
        "reminder_interval": process.reminder_interval if process else 1,
        "reminder_unit": process.reminder_unit if process else "weeks",
        "rows": phase_rows(process),
    }


def _page(request: Request, process_id: int | None, values: dict[str, Any], error: str | None, status: int) -> Response:
    context = {"process_id": process_id, "values": values, "error": error, "units": UNITS}
    return templates.TemplateResponse(request, "sales_processes/form.html", context, status_code=status)


@router.get("", response_class=HTMLResponse)
async def processes(request: Request, services: ServicesDep) -> HTMLResponse:
    items = [
        {"process": row.process, "phases": row.phases, "open_leads": row.open_leads}
        for row in await lead_service.process_overview(services)
    ]
    context = {"items": items, "units": UNITS, "duration_of": Duration.of_seconds}
    return templates.TemplateResponse(request, "sales_processes/list.html", context)


@router.get("/new", response_class=HTMLResponse)
async def new_process(request: Request) -> Response:
    return _page(request, None, _values(None), None, 200)


@router.post("/new", response_model=None)
async def create_process(request: Request, services: ServicesDep) -> Response:
    data, shown, error = parse_form(await request.form())
    if data is None:
        return _page(request, None, shown, error, 422)
    try:
        process_id = (await lead_service.add_process(services, data)).id
    except lead_service.LeadError as exc:
        return _page(request, None, shown, str(exc), exc.status)
    flash(request, f"Vertriebsprozess „{data.name}“ angelegt.")
    return RedirectResponse(f"/sales-processes/{process_id}", status_code=303)


@router.get("/{process_id}", response_class=HTMLResponse)
async def edit_process(request: Request, process_id: int, services: ServicesDep) -> Response:
    try:
        process = await lead_service.show_process(services, process_id)
    except lead_service.NotFoundError:
        return _missing(request, process_id)
    return _page(request, process_id, _values(process), None, 200)


@router.post("/{process_id}", response_model=None)
async def update_process(request: Request, process_id: int, services: ServicesDep) -> Response:
    data, shown, error = parse_form(await request.form())
    if data is None:
        return _page(request, process_id, shown, error, 422)
    try:
        await lead_service.replace_process(services, process_id, data)
    except lead_service.NotFoundError:
        return _missing(request, process_id)
    except lead_service.LeadError as exc:
        return _page(request, process_id, shown, str(exc), exc.status)
    flash(request, f"Vertriebsprozess „{data.name}“ gespeichert; laufende Leads rechnen ihre Fristen neu.")
    return RedirectResponse(f"/sales-processes/{process_id}", status_code=303)


def _missing(request: Request, process_id: int) -> Response:
    context = {"title": t("error.not_found"), "message": f"Vertriebsprozess {process_id} gibt es nicht."}
    return templates.TemplateResponse(request, "office/problem.html", context, status_code=404)
