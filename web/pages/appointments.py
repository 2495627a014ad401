"""/appointments ("Termine"): the appointments immoflow knows, per user, as a day or a week list.

Days are the office's (IMMOFLOW_TIME_ZONE): a day runs from local midnight to midnight, a week from Monday.
Agents see their own appointments; admins choose a user or everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from db.base import utcnow
from db.models import Appointment, Contact, Property, User
from starter.services import appointments as appointment_service
from starter.services import users as user_service
from web.dependencies import ServicesDep
from web.security.roles import ViewerDep
from web.templating import templates

router = APIRouter(prefix="/appointments", tags=["office"], include_in_schema=False)

WEEKDAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
KINDS = {"viewing": "Besichtigung", "general": "Termin"}


@dataclass(frozen=True)
class Entry:
    appointment: Appointment
    starts: datetime
    ends: datetime
    contact: Contact | None
    property: Property | None
    user: User | None


@dataclass(frozen=True)
class Day:
    day: date
    label: str
    entries: list[Entry]


def period(view: str, anchor: date) -> tuple[date, int]:
    """(first day, number of days) of the day or the week (Monday to Sunday) holding ANCHOR."""
    if view == "week":
        return anchor - timedelta(days=anchor.weekday()), 7
    return anchor, 1


def parse_day(value: str | None, zone: ZoneInfo) -> date:
    try:
        return date.fromisoformat(value) if value else utcnow().astimezone(zone).date()
    except ValueError:
        return utcnow().astimezone(zone).date()


@router.get("", response_class=HTMLResponse)
async def appointments(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    view: str = "week",
    day: str | None = None,
    user: str | None = None,
) -> HTMLResponse:
    view = view if view in ("day", "week") else "week"
    zone = ZoneInfo(services.settings.time_zone)
    first, days = period(view, parse_day(day, zone))
    # Local midnights, each converted on its own: a week across the DST change is still 7 local days.
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), time.min, zone).astimezone(UTC)
    who: str | None
    if not viewer.is_admin or (viewer.user_id is not None and not user):
        owner: int | None = viewer.user_id
        who = None
    elif user and user.isdigit():
        owner, who = int(user), user
    else:
        owner, who = None, "all"
    found = await appointment_service.appointments_between(services, start, end, owner=owner)
    users = await user_service.active_users(services)
    by_day: dict[date, list[Entry]] = {first + timedelta(days=n): [] for n in range(days)}
    for booked in found:
        appointment = booked.appointment
        starts, ends = appointment.starts_at.astimezone(zone), appointment.ends_at.astimezone(zone)
        entry = Entry(appointment, starts, ends, booked.contact, booked.property, booked.user)
        # An appointment spanning midnight shows on each day it touches.
        for current in by_day:
            day_start = datetime.combine(current, time.min, zone)
            if starts < datetime.combine(current + timedelta(days=1), time.min, zone) and ends > day_start:
                by_day[current].append(entry)
    step = timedelta(days=days)
    context = {
        "days": [Day(d, f"{WEEKDAYS[d.weekday()]}, {d:%d.%m.%Y}", entries) for d, entries in by_day.items()],
        "view": view,
        "who": who,
        "users": users,
        "is_admin": viewer.is_admin,
        "first": first,
        "previous": (first - step).isoformat(),
        "next": (first + step).isoformat(),
        "kinds": KINDS,
        "total": len(found),
    }
    return templates.TemplateResponse(request, "appointments/list.html", context)
