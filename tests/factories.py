"""Small builders for test data; each returns the ORM row so tests can refer to its id."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from db.models import Contact, Inquiry, Mailbox, Property, PropertyVisibility, User
from db.session import SessionFactory
from messaging.template_store import ensure_default_templates
from workflows.inquiry_models import workflow_id_for

_ids = itertools.count(1)


async def office(sessions: SessionFactory) -> dict[str, Any]:
    """An agent, the mailbox she owns, one active visible property, one inactive, one hidden; templates."""
    async with sessions.begin() as session:
        agent = User(email="anna@office.example", name="Anna Agent")
        other = User(email="otto@office.example", name="Otto Other")
        session.add_all([agent, other])
        await session.flush()
        mailbox = Mailbox(address="anfragen@office.example", main_user_id=agent.id)
        active = Property(
            external_ref="W-1001",
            title="Helle 3-Zimmer-Wohnung am Park",
            marketing_status="active",
            manager_user_id=agent.id,
            property_type="Wohnung",
            rooms=Decimal("3"),
            living_area=Decimal("78.5"),
            price=Decimal("1250"),
            zip_code="10115",
            city="Berlin",
            cover_image_url="/static/demo/w-1001.jpg",
            expose_url="https://example.com/expose/W-1001.pdf",
        )
        inactive = Property(external_ref="W-1002", title="Verkauft", marketing_status="sold", manager_user_id=agent.id)
        hidden = Property(
            external_ref="W-1003", title="Fremdobjekt", marketing_status="active", manager_user_id=other.id
        )
        session.add_all([mailbox, active, inactive, hidden])
        await session.flush()
        session.add(PropertyVisibility(property_id=active.id, user_id=agent.id))
        await ensure_default_templates(session)
    return {
        "agent": agent,
        "other": other,
        "mailbox": mailbox,
        "active": active,
        "inactive": inactive,
        "hidden": hidden,
    }


async def contact(sessions: SessionFactory, **fields: Any) -> Contact:
    values: dict[str, Any] = {"first_name": "Klara", "last_name": "Bekannt", "email": "klara@example.com"}
    values.update(fields)
    async with sessions.begin() as session:
        row = Contact(**values)
        session.add(row)
    return row


async def inquiry(
    sessions: SessionFactory,
    *,
    email: str = "neu@example.com",
    property_ref: str = "W-1001",
    source: str = "immoscout24",
    mailbox: str = "anfragen@office.example",
    **prospect: Any,
) -> Inquiry:
    external_id = f"msg-{next(_ids)}"
    data = {"salutation": "Frau", "first_name": "Nina", "last_name": "Neu", "zip_code": "10117", "city": "Berlin"}
    data.update(prospect)
    async with sessions.begin() as session:
        row = Inquiry(
            source=source,
            external_id=external_id,
            mailbox_address=mailbox,
            property_ref=property_ref,
            prospect=data,
            email=email,
            message="Ist die Wohnung noch frei?",
            received_at=datetime.now(UTC),
            workflow_id=workflow_id_for(source, external_id),
        )
        session.add(row)
    return row


async def confirmed_advertising_consent(sessions: SessionFactory, email: str) -> None:
    """A double opt-in the address completed: advertising mails (first email, birthday) may go out."""
    from db.models import ConsentRecord
    from domain.addresses import email_hash

    async with sessions.begin() as session:
        now = datetime.now(UTC)
        session.add(
            ConsentRecord(
                purpose="advertising",
                status="confirmed",
                email=email,
                email_hash=email_hash(email),
                text="Angebote per E-Mail",
                text_version="test",
                given_at=now,
                confirmed_at=now,
            )
        )
