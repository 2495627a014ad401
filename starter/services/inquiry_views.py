"""Read models of the inquiries API: the list page and the detail view, straight from the database.

The database (kept current by the workflow's activities) is the source of truth here, not a workflow
query: the office sees its inquiries even while Temporal or the worker is down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contact, Inquiry, InquiryStatus, InquiryStep, Message, Property, User
from settings import Settings
from starter.services.context import Services


class InquiryItem(BaseModel):
    id: int
    source: str
    external_id: str
    workflow_id: str
    status: str
    reason: str | None
    property_ref: str | None
    mailbox: str | None
    prospect_name: str | None
    email: str
    received_at: datetime
    created_at: datetime
    next_step: str | None
    next_step_at: datetime | None


class InquiryPage(BaseModel):
    items: list[InquiryItem]
    total: int
    page: int
    page_size: int


class ContactSummary(BaseModel):
    id: int
    name: str
    salutation: str | None
    email: str | None
    phone: str | None
    mobile: str | None
    street: str | None
    zip_code: str | None
    city: str | None
    status: str


class PropertySummary(BaseModel):
    id: int
    ref: str
    title: str
    marketing_status: str
    street: str | None
    zip_code: str | None
    city: str | None
    manager_name: str | None
    manager_email: str | None


class TimelineStep(BaseModel):
    key: str
    at: datetime
    status: str
    title: str
    detail: str | None


class SentMessage(BaseModel):
    id: int
    channel: str
    template_key: str | None
    recipient: str
    subject: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None


class InquiryDetail(InquiryItem):
    message: str | None
    prospect: dict[str, Any]
    updated_at: datetime | None
    contact: ContactSummary | None
    duplicate_contact: ContactSummary | None
    property: PropertySummary | None
    timeline: list[TimelineStep]
    messages: list[SentMessage]
    temporal_ui_url: str


async def inquiry_page(
    session: AsyncSession,
    *,
    statuses: list[str],
    portal: str | None,
    property_ref: str | None,
    include_ignored: bool,
    page: int,
    page_size: int,
    visible: Any = None,
) -> InquiryPage:
    """VISIBLE: an extra condition on Inquiry (web.security.visibility.inquiry_condition for the caller)."""
    conditions: list[Any] = [] if visible is None else [visible]
    if statuses:
        conditions.append(Inquiry.status.in_(statuses))
    elif not include_ignored:
        # Seed 002: an inquiry for a property not in marketing gets no dashboard entry.
        conditions.append(Inquiry.status != InquiryStatus.IGNORED)
    if portal:
        conditions.append(Inquiry.source == portal.strip().lower())
    if property_ref:
        conditions.append(Inquiry.property_ref == property_ref.strip())
    total = await session.scalar(select(func.count()).select_from(Inquiry).where(*conditions)) or 0
    rows = await session.scalars(
        select(Inquiry)
        .where(*conditions)
        .order_by(Inquiry.received_at.desc(), Inquiry.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return InquiryPage(items=[_item(row) for row in rows], total=total, page=page, page_size=page_size)


async def inquiry_detail(session: AsyncSession, inquiry_id: int, settings: Settings) -> InquiryDetail | None:
    inquiry = await session.get(Inquiry, inquiry_id)
    if inquiry is None:
        return None
    steps = await session.scalars(
        select(InquiryStep).where(InquiryStep.inquiry_id == inquiry_id).order_by(InquiryStep.at, InquiryStep.id)
    )
    messages = await session.scalars(select(Message).where(Message.inquiry_id == inquiry_id).order_by(Message.id))
    return InquiryDetail(
        **_item(inquiry).model_dump(),
        message=inquiry.message,
        prospect=inquiry.prospect,
        updated_at=inquiry.updated_at,
        contact=await _contact(session, inquiry.contact_id),
        duplicate_contact=await _contact(session, inquiry.duplicate_contact_id),
        property=await _property(session, inquiry),
        timeline=[
            TimelineStep(key=step.key, at=step.at, status=step.status, title=step.title, detail=step.detail)
            for step in steps
        ],
        messages=[
            SentMessage(
                id=message.id,
                channel=message.channel,
                template_key=message.template_key,
                recipient=message.recipient,
                subject=message.subject,
                status=message.status,
                created_at=message.created_at,
                sent_at=message.sent_at,
                error=message.error,
            )
            for message in messages
        ],
        temporal_ui_url=settings.workflow_ui_url(inquiry.workflow_id),
    )


async def inquiry_list(
    services: Services,
    *,
    statuses: list[str],
    portal: str | None,
    property_ref: str | None,
    include_ignored: bool,
    page: int,
    page_size: int,
    visible: Any = None,
) -> InquiryPage:
    """The office's inquiry list (API and dashboard): one page under the filters, newest first."""
    async with services.sessions() as session:
        return await inquiry_page(
            session,
            statuses=statuses,
            portal=portal,
            property_ref=property_ref,
            include_ignored=include_ignored,
            page=page,
            page_size=page_size,
            visible=visible,
        )


async def find_inquiry(services: Services, inquiry_id: int) -> InquiryDetail | None:
    """One inquiry with contact, property, timeline and mails (API and dashboard); None when it does not exist."""
    async with services.sessions() as session:
        return await inquiry_detail(session, inquiry_id, services.settings)


def _item(inquiry: Inquiry) -> InquiryItem:
    prospect = inquiry.prospect or {}
    name = " ".join(str(prospect[key]) for key in ("first_name", "last_name") if prospect.get(key))
    return InquiryItem(
        id=inquiry.id,
        source=inquiry.source,
        external_id=inquiry.external_id,
        workflow_id=inquiry.workflow_id,
        status=inquiry.status,
        reason=inquiry.reason,
        property_ref=inquiry.property_ref,
        mailbox=inquiry.mailbox_address,
        prospect_name=name or None,
        email=inquiry.email,
        received_at=inquiry.received_at,
        created_at=inquiry.created_at,
        next_step=inquiry.next_step,
        next_step_at=inquiry.next_step_at,
    )


async def _contact(session: AsyncSession, contact_id: int | None) -> ContactSummary | None:
    contact = await session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None:
        return None
    return ContactSummary(
        id=contact.id,
        name=contact.display_name,
        salutation=contact.salutation,
        email=contact.email,
        phone=contact.phone,
        mobile=contact.mobile,
        street=contact.street,
        zip_code=contact.zip_code,
        city=contact.city,
        status=contact.status,
    )


async def _property(session: AsyncSession, inquiry: Inquiry) -> PropertySummary | None:
    # Before the workflow resolved the property, show the one the reference names (if the office has it).
    if inquiry.property_id is not None:
        condition = Property.id == inquiry.property_id
    elif inquiry.property_ref:
        condition = Property.external_ref == inquiry.property_ref
    else:
        return None
    row = (
        await session.execute(
            select(Property, User.name, User.email)
            .outerjoin(User, User.id == Property.manager_user_id)
            .where(condition)
        )
    ).first()
    if row is None:
        return None
    prop, manager_name, manager_email = row
    return PropertySummary(
        id=prop.id,
        ref=prop.external_ref,
        title=prop.title,
        marketing_status=prop.marketing_status,
        street=prop.street,
        zip_code=prop.zip_code,
        city=prop.city,
        manager_name=manager_name,
        manager_email=manager_email,
    )
