"""The one Jinja2 environment of the server-rendered pages: autoescaped, German dates, a shared top nav.

Pages extend `base.html`; every page gets `t(...)` (web.texts), `csrf_field()` for its forms,
`current_user` and `flashes()`. The top nav is NAV_ITEMS
(its router module is imported by `routers()`), so no one needs to edit the layout to get a menu entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from messaging import l10n
from messaging.mail_layout import OfficeBrand, brand_of, office_brand
from messaging.outbox import readable_address
from settings import Settings, get_settings
from web.flash import pop_flashes
from web.security.auth import current_user
from web.security.csrf import csrf_field, csrf_token
from web.texts import t, tn

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    dev_only: bool = False  # hidden (and its pages 404) unless IMMOFLOW_ENV=development
    admin_only: bool = False  # hidden from agents (its routes refuse them with 403, see web.security.roles)


# The office's top navigation, in the order shown. One list, so a page cannot appear by being imported.
NAV_ITEMS = (
    NavItem(t("nav.dashboard"), "/dashboard"),
    NavItem(t("nav.tasks"), "/tasks"),
    NavItem(t("nav.unrecognised"), "/mail/unrecognised"),
    NavItem("Leads", "/leads"),
    NavItem(t("nav.appointments"), "/appointments"),
    NavItem("Objekte", "/properties"),
    NavItem("Kontakte", "/contacts"),
    NavItem("Terminanfragen", "/slot-requests"),
    NavItem("Automationen", "/automations", admin_only=True),
    NavItem(t("nav.settings"), "/settings/inquiry-manager", admin_only=True),
    NavItem(t("nav.sales_processes"), "/sales-processes", admin_only=True),
    NavItem("Rechtliches", "/settings/legal", admin_only=True),
    NavItem(t("nav.mailboxes"), "/settings/mailboxes", admin_only=True),
    NavItem(t("nav.templates"), "/settings/templates", admin_only=True),
    NavItem(t("nav.users"), "/users", admin_only=True),
    NavItem("Mails (Dev)", "/dev/mail", dev_only=True),
    NavItem("SMS (Dev)", "/dev/sms", dev_only=True),
)


def nav_items(settings: Settings, *, admin: bool = True) -> list[NavItem]:
    production = not settings.is_development
    return [item for item in NAV_ITEMS if not (item.dev_only and production) and not (item.admin_only and not admin)]


def problem_page(request: Request, title: str, message: str, status_code: int) -> Response:
    """A refusal as a page of the office layout (a failed CSRF check, a missing permission)."""
    context = {"title": title, "message": message}
    return templates.TemplateResponse(request, "office/problem.html", context, status_code=status_code)


def _office(request: Request, settings: Settings) -> OfficeBrand:
    identity = getattr(request.state, "office", None)
    return brand_of(identity) if identity is not None else office_brand(settings)


def request_settings(request: Request) -> Settings:
    """The app's settings (tests build apps with their own); the global ones before the lifespan ran."""
    services = getattr(request.app.state, "services", None)
    return services.settings if services is not None else get_settings()


def format_datetime(value: datetime | date | None, time_zone: str | None = None) -> str:
    """23.11.2026 17:05 in the office's time zone; dates as 23.11.2026; nothing for None."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return l10n.day(value)
    return l10n.day_time(value, ZoneInfo(time_zone or get_settings().time_zone))


def format_short_datetime(value: datetime | None, time_zone: str | None = None) -> str:
    """25.11. 09:00 in the office's time zone: the dashboard's "next step" column."""
    if value is None:
        return ""
    return l10n.short_day_time(value, ZoneInfo(time_zone or get_settings().time_zone))


def format_weekday_datetime(value: datetime | None, time_zone: str | None = None) -> str:
    """Di., 01.12.2026 10:00: appointments, where people think in weekdays."""
    if value is None:
        return ""
    zone = ZoneInfo(time_zone or get_settings().time_zone)
    return f"{l10n.weekday_day(value, zone)} {l10n.clock(value, zone)}"


def format_period(duration: Any, none: str = "keine") -> str:
    """A {value, unit} duration (sales phases, reminder intervals) as "2 Tage"; NONE when there is none."""
    if duration is None:
        return none
    return l10n.period(int(duration.value), str(duration.unit))


def format_time_range(starts_at: datetime, ends_at: datetime, time_zone: str | None = None) -> str:
    return l10n.time_range(starts_at, ends_at, ZoneInfo(time_zone or get_settings().time_zone))


_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str | None) -> Markup:
    """Plain text, escaped, with its http(s) URLs as links (a mail's confirmation link, clickable as sent)."""
    source = text or ""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(source):
        url = match.group(0).rstrip(".,;:!?)")
        parts += [escape(source[position : match.start()]), _link(url)]
        position = match.start() + len(url)
    parts.append(escape(source[position:]))
    return Markup("").join(parts)


def _link(url: str) -> Markup:
    return Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url)


def _layout_context(request: Request) -> dict[str, Any]:
    settings = request_settings(request)
    user = current_user(request)
    return {
        "nav_items": nav_items(settings, admin=user is not None and user.is_admin),
        # Counts next to menu entries ("Aufgaben 3"), put on the request by web.nav_counts.
        "nav_badges": getattr(request.state, "nav_badges", {}),
        "current_path": request.url.path,
        "temporal_ui_url": settings.temporal_ui_url,
        "app_env": settings.env,
        "time_zone": settings.time_zone,
        # Callables, so a page without a form (e.g. a prospect page) creates no session and sets no cookie.
        "csrf_token": partial(csrf_token, request),
        "csrf_field": partial(csrf_field, request),
        "flashes": partial(pop_flashes, request),
        "current_user": user,
        # Who the pages speak for: the office's legal identity on prospect pages (loaded by web.pages.legal),
        # else the sender's name.
        "office": _office(request, settings),
    }


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    # On for every template, whatever its file name: page data comes from prospects and portals.
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["datetime"] = format_datetime
environment.filters["short_datetime"] = format_short_datetime
environment.filters["linkify"] = linkify
environment.filters["weekday_datetime"] = format_weekday_datetime
environment.filters["period"] = format_period
# Rows written before addresses were stored readable hold "=?utf-8?q?Lea_Sch=C3=A4fer?= <…>": decode on display.
environment.filters["address"] = readable_address
environment.filters["number"] = l10n.number
environment.filters["money"] = l10n.money
environment.globals["t"] = t
environment.globals["tn"] = tn
environment.globals["plural"] = l10n.plural
environment.globals["time_range"] = format_time_range

templates = Jinja2Templates(env=environment, context_processors=[_layout_context])
