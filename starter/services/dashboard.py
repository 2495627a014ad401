"""What the dashboard needs beyond the inquiries API's read models (starter.services.inquiry_views):
counts per status, the portals seen, property titles and cover images, one outbox message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Inquiry, InquiryStatus, Message, Property
from messaging.inquiry_mail import key_facts
from starter.services.attention import Attention, office_attention
from starter.services.context import Services
from starter.services.inquiry_views import InquiryDetail, InquiryPage, inquiry_detail, inquiry_page

# The order of the count tabs: what needs attention first, then outcomes.
STATUS_ORDER = [
    InquiryStatus.WAITING_FOR_CONFIRMATION,
    InquiryStatus.PROCESSING,
    InquiryStatus.RECEIVED,
    InquiryStatus.ABORTED,
    InquiryStatus.FAILED,
    InquiryStatus.COMPLETED,
    InquiryStatus.SKIPPED,
    InquiryStatus.EXPIRED,
    InquiryStatus.CANCELLED,
]
# Seed 002: an inquiry for a property outside active marketing gets no dashboard entry.
VISIBLE_STATUSES = frozenset(STATUS_ORDER)
# The workflow has ended (or waits for nobody): no next step to show, nothing to cancel.
FINAL_STATUSES = frozenset(
    {
        InquiryStatus.IGNORED,
        InquiryStatus.SKIPPED,
        InquiryStatus.COMPLETED,
        InquiryStatus.EXPIRED,
        InquiryStatus.CANCELLED,
        InquiryStatus.FAILED,
    }
)


@dataclass(frozen=True)
class PropertyCard:
    cover_image_url: str | None
    expose_url: str | None
    facts: list[tuple[str, str]]


async def status_counts(
    session: AsyncSession, *, portal: str | None, property_ref: str | None, visible: Any = None
) -> dict[str, int]:
    """Inquiries per visible status under the same portal/property filter as the list (not its status);
    VISIBLE: the caller's visibility condition (web.security.visibility)."""
    conditions: list[Any] = [Inquiry.status.in_([str(s) for s in VISIBLE_STATUSES])]
    if visible is not None:
        conditions.append(visible)
    if portal:
        conditions.append(Inquiry.source == portal.strip().lower())
    if property_ref:
        conditions.append(Inquiry.property_ref == property_ref)
    rows = await session.execute(select(Inquiry.status, func.count()).where(*conditions).group_by(Inquiry.status))
    counts = {str(status): 0 for status in STATUS_ORDER}
    counts.update({status: count for status, count in rows})
    return counts


async def portals(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(Inquiry.source)
        .where(Inquiry.status != InquiryStatus.IGNORED)
        .group_by(Inquiry.source)
        .order_by(Inquiry.source)
    )
    return list(rows)


async def canonical_property_ref(session: AsyncSession, typed: str) -> str:
    """The stored spelling of a property number typed in any case ("w-1001" finds W-1001)."""
    typed = typed.strip()
    known = await session.scalar(
        select(Property.external_ref).where(func.lower(Property.external_ref) == typed.lower()).limit(1)
    )
    return known or typed


async def property_titles(session: AsyncSession, refs: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({ref for ref in refs if ref})
    if not wanted:
        return {}
    rows = await session.execute(select(Property.external_ref, Property.title).where(Property.external_ref.in_(wanted)))
    return {ref: title for ref, title in rows}


async def property_card(session: AsyncSession, property_id: int) -> PropertyCard | None:
    prop = await session.get(Property, property_id)
    if prop is None:
        return None
    return PropertyCard(
        cover_image_url=safe_link(prop.cover_image_url),
        expose_url=safe_link(prop.expose_url),
        facts=key_facts(prop),
    )


async def inquiry_message(session: AsyncSession, inquiry_id: int, message_id: int) -> Message | None:
    message = await session.get(Message, message_id)
    return message if message is not None and message.inquiry_id == inquiry_id else None


def safe_link(url: str | None) -> str | None:
    """Only http(s) or site-relative links end up in href/src: a stored `javascript:` URL is dropped."""
    if not url:
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    return url if url.lower().startswith(("https://", "http://")) else None


@dataclass(frozen=True)
class DashboardOverview:
    """One dashboard view: the page of inquiries and what surrounds it (tabs, titles, portals, attention)."""

    page: InquiryPage
    property_ref: str | None
    counts: dict[str, int]
    titles: dict[str, str]
    portals: list[str]
    attention: Attention


async def dashboard_overview(
    services: Services,
    *,
    status: str | None,
    portal: str | None,
    typed_ref: str | None,
    page: int,
    page_size: int,
    visible: Any = None,
) -> DashboardOverview:
    """The dashboard list under its filters (a typed property number in any case), with counts per status."""
    async with services.sessions() as session:
        property_ref = await canonical_property_ref(session, typed_ref) if typed_ref and typed_ref.strip() else None
        result = await inquiry_page(
            session,
            statuses=[status] if status else [],
            portal=portal,
            property_ref=property_ref,
            include_ignored=False,
            page=page,
            page_size=page_size,
            visible=visible,
        )
        counts = await status_counts(session, portal=portal, property_ref=property_ref, visible=visible)
        titles = await property_titles(session, (item.property_ref for item in result.items))
        known_portals = await portals(session)
    return DashboardOverview(
        page=result,
        property_ref=property_ref,
        counts=counts,
        titles=titles,
        portals=known_portals,
        attention=await office_attention(services),
    )


async def inquiry_preview(services: Services, inquiry_id: int) -> tuple[InquiryDetail, PropertyCard | None] | None:
    """The preview ("magnifier"): the inquiry's detail and its property's card; None when it does not exist."""
    async with services.sessions() as session:
        detail = await inquiry_detail(session, inquiry_id, services.settings)
        card = await property_card(session, detail.property.id) if detail and detail.property else None
    return None if detail is None else (detail, card)


async def find_inquiry_message(services: Services, inquiry_id: int, message_id: int) -> Message | None:
    """One mail of the inquiry as it was sent; None when it does not exist or belongs to another inquiry."""
    async with services.sessions() as session:
        return await inquiry_message(session, inquiry_id, message_id)
