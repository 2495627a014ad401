"""The office dashboard (seed 002's widget): the inquiry list, the preview ("magnifier") and the mails as sent.

Reads come from the database through the inquiries API's read models, so the office sees its inquiries
even while Temporal or the worker is down; actions (web.pages.inquiry_actions) talk to the workflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from db.base import utcnow
from db.models import Inquiry, InquiryStatus, Message
from starter.services import dashboard as queries
from starter.services.inquiry_views import InquiryDetail, InquiryItem
from web.dependencies import ServicesDep
from web.security.headers import MAIL_FRAME_HEADERS
from web.security.roles import viewer
from web.security.visibility import inquiry_condition, require_visible
from web.templating import format_datetime, format_short_datetime, templates
from web.texts import t
from workflows.inquiry import DUPLICATE_REVIEW_STEP

router = APIRouter(tags=["office"], include_in_schema=False)

PAGE_SIZE = 25


@dataclass(frozen=True)
class Row:
    item: InquiryItem
    received: str
    property_title: str | None
    next_step: str | None
    status_label: str


@dataclass(frozen=True)
class Actions:
    resend: bool
    not_duplicate: bool
    cancel: bool

    @property
    def any(self) -> bool:
        return self.resend or self.not_duplicate or self.cancel


def next_step_text(status: str, step: str | None, at: datetime | None, time_zone: str) -> str | None:
    """ "Erinnerung 2 am 25.11. 09:00" while the workflow waits for it; nothing once it has ended."""
    if not step or at is None or status in queries.FINAL_STATUSES:
        return None
    return t("dashboard.next_step", step=step, at=format_short_datetime(at, time_zone))


def status_label(status: str, step: str | None, at: datetime | None, now: datetime) -> str:
    """The status as the agent reads it: a duplicate still open for review is not "Abgebrochen" yet."""
    if status == "aborted" and step == DUPLICATE_REVIEW_STEP and at is not None and at > now:
        return t("status.duplicate_review")
    return t(f"status.{status}")


def received_label(value: datetime, now: datetime, time_zone: str) -> str:
    """ "Heute, 09:12" and "Gestern, 17:40" for the days an agent thinks in; older ones with their date."""
    zone = ZoneInfo(time_zone)
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    days_ago = (now.astimezone(zone).date() - local.date()).days
    if days_ago == 0:
        return t("dashboard.today", time=f"{local:%H:%M}")
    if days_ago == 1:
        return t("dashboard.yesterday", time=f"{local:%H:%M}")
    return format_datetime(local, time_zone)


def available_actions(detail: InquiryDetail) -> Actions:
    """Which buttons to offer; the workflow's validators still have the last word (and say why not)."""
    status = detail.status
    reviewing_duplicate = status == InquiryStatus.ABORTED and detail.duplicate_contact is not None
    running = status in (InquiryStatus.RECEIVED, InquiryStatus.PROCESSING, InquiryStatus.WAITING_FOR_CONFIRMATION)
    return Actions(
        resend=status == InquiryStatus.WAITING_FOR_CONFIRMATION,
        not_duplicate=reviewing_duplicate,
        cancel=running or reviewing_duplicate,
    )


def _positive_int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    services: ServicesDep,
    status: str | None = None,
    portal: str | None = None,
    ref: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    time_zone = services.settings.time_zone
    status = status if status in queries.VISIBLE_STATUSES else None
    portal = (portal or "").strip().lower() or None
    page_number = _positive_int(page)
    visible = inquiry_condition(viewer(request))
    overview = await queries.dashboard_overview(
        services, status=status, portal=portal, typed_ref=ref, page=page_number, page_size=PAGE_SIZE, visible=visible
    )
    result, property_ref, counts = overview.page, overview.property_ref, overview.counts
    now = utcnow()
    rows = [
        Row(
            item=item,
            received=received_label(item.received_at, now, time_zone),
            property_title=overview.titles.get(item.property_ref or ""),
            next_step=next_step_text(item.status, item.next_step, item.next_step_at, time_zone),
            status_label=status_label(item.status, item.next_step, item.next_step_at, now),
        )
        for item in result.items
    ]
    filters = {"status": status, "portal": portal, "ref": property_ref}

    def link(**changes: Any) -> str:
        """This view's URL with CHANGES (None removes a parameter): keeps filters across tabs and pages."""
        params = {**filters, "page": None, **changes}
        query = urlencode({key: value for key, value in params.items() if value not in (None, "", 1)})
        return "/dashboard" + (f"?{query}" if query else "")

    context = {
        "rows": rows,
        "counts": counts,
        "attention": overview.attention,
        "total_visible": sum(counts.values()),
        "status_order": [str(s) for s in queries.STATUS_ORDER],
        "portals": overview.portals,
        "filters": filters,
        "page": page_number,
        "pages": max(1, math.ceil(result.total / PAGE_SIZE)),
        "total": result.total,
        "link": link,
        "now": now,
    }
    return templates.TemplateResponse(request, "dashboard/list.html", context)


@router.get(
    "/dashboard/inquiries/{inquiry_id}",
    response_class=HTMLResponse,
    dependencies=[require_visible(Inquiry, "inquiry_id")],
)
async def inquiry_preview(request: Request, inquiry_id: int, services: ServicesDep) -> HTMLResponse:
    preview = await queries.inquiry_preview(services, inquiry_id)
    if preview is None:
        return not_found(request, t("error.inquiry_missing"))
    detail, card = preview
    context = {
        "inquiry": detail,
        "card": card,
        "actions": available_actions(detail),
        "next_step": next_step_text(detail.status, detail.next_step, detail.next_step_at, services.settings.time_zone),
        "status_label": status_label(detail.status, detail.next_step, detail.next_step_at, utcnow()),
        "prospect_fields": [
            (t(f"field.{name}"), detail.prospect.get(name))
            for name in ("salutation", "first_name", "last_name", "email", "phone", "street", "zip_code", "city")
            if detail.prospect.get(name)
        ],
    }
    return templates.TemplateResponse(request, "dashboard/detail.html", context)


@router.get(
    "/dashboard/inquiries/{inquiry_id}/messages/{message_id}",
    response_class=HTMLResponse,
    dependencies=[require_visible(Inquiry, "inquiry_id")],
)
async def message_view(request: Request, inquiry_id: int, message_id: int, services: ServicesDep) -> HTMLResponse:
    message = await queries.find_inquiry_message(services, inquiry_id, message_id)
    if message is None:
        return not_found(request, t("error.message_missing"))
    return mail_page(request, message, f"/dashboard/inquiries/{inquiry_id}", t("mail.back"))


def mail_page(request: Request, message: Message, back_url: str, back_label: str) -> HTMLResponse:
    """A mail as sent (headers, text, the HTML part in a sandboxed frame served from `<page>/html`)."""
    context = {
        "message": message,
        "back_url": back_url,
        "back_label": back_label,
        "html_url": f"{request.url.path}/html",
    }
    return templates.TemplateResponse(request, "dashboard/message.html", context)


@router.get("/dashboard/inquiries/{inquiry_id}/messages/{message_id}/html", response_class=HTMLResponse)
async def message_html(request: Request, inquiry_id: int, message_id: int, services: ServicesDep) -> HTMLResponse:
    """The mail's HTML part for the sandboxed frame of message.html, with a policy of its own."""
    message = await queries.find_inquiry_message(services, inquiry_id, message_id)
    if message is None or not message.body_html:
        return not_found(request, t("error.message_missing"))
    return HTMLResponse(message.body_html, headers=MAIL_FRAME_HEADERS)


def not_found(request: Request, message: str) -> HTMLResponse:
    context = {"title": t("error.not_found"), "message": message}
    return templates.TemplateResponse(request, "office/problem.html", context, status_code=404)
