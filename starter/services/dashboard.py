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
