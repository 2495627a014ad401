"""Demo data for the local stack: an office with two agents, a mailbox, three properties and a few contacts.

Idempotent: every record is found by its natural key (email, address, property ref, process name) and
only created when missing, so loading twice changes nothing and edits made in the app survive.
The three properties cover the inquiry manager's first decision (seed 002): W-1001 is processed,
W-1002 is not in active marketing, W-1003 is not visible to the mailbox's main user.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.template_store import ensure_default_templates
from db.base import Base
from db.models import (
    Contact,
    ContactStatus,
    Mailbox,
    MarketingStatus,
    Property,
    PropertyContactPerson,
    PropertyVisibility,
    SalesPhase,
    SalesProcess,
    User,
)
from db.session import SessionFactory
from settings import Settings
from starter.passwords import hash_password

AGENT_NAME = "Anna Agent"
AGENT_EMAIL = "agent@immoflow.local"
AGENT_PASSWORD = "demo"
SECOND_AGENT_EMAIL = "max@immoflow.local"
MAILBOX = "anfragen@immoflow.local"
KNOWN_PROSPECT_EMAIL = "bekannt@example.com"
SALES_PROCESS = "Vermietung"

ModelT = TypeVar("ModelT", bound=Base)


@dataclass
class DemoResult:
    created: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)


async def _get_or_create(
    session: AsyncSession, result: DemoResult, model: type[ModelT], label: str, key: dict[str, Any], **values: Any
) -> ModelT:
    existing = await session.scalar(select(model).filter_by(**key))
    if existing is not None:
        return existing
    row = model(**key, **values)
    session.add(row)
    await session.flush()  # the id is needed by the rows that point here
    result.created.append(label)
    return row


async def _users(session: AsyncSession, result: DemoResult) -> tuple[User, User]:
    anna = await _get_or_create(
        session,
        result,
        User,
        f"user {AGENT_EMAIL}",
        {"email": AGENT_EMAIL},
        name=AGENT_NAME,
        password_hash=hash_password(AGENT_PASSWORD),
        mobile="+49 151 11111111",
        sms_allowed=False,
    )
    # Max can receive SMS (mobile, permission, billing account): the time-slot answers need such a user.
    max_ = await _get_or_create(
        session,
        result,
        User,
        f"user {SECOND_AGENT_EMAIL}",
        {"email": SECOND_AGENT_EMAIL},
        name="Max Makler",
        password_hash=hash_password(AGENT_PASSWORD),
        mobile="+49 170 2222222",
        sms_allowed=True,
        sms_billing_account="DEMO-SMS-0001",
    )
    return anna, max_


async def _contacts(session: AsyncSession, result: DemoResult, anna: User, max_: User) -> dict[str, Contact]:
    known = await _get_or_create(
        session,
        result,
        Contact,
        f"contact {KNOWN_PROSPECT_EMAIL}",
        {"email": KNOWN_PROSPECT_EMAIL},
        salutation="Herr",
        first_name="Bernd",
        last_name="Bekannt",
        phone="+49 30 1234567",
        street="Gneisenaustraße 5",
        zip_code="10961",
        city="Berlin",
        status=ContactStatus.PROSPECT,
        newsletter=True,
        owner_user_id=anna.id,
        source="demo",
    )
    # The contact person of W-1001 stands for Max, so answers to it reach a user (task/SMS possible).
    max_contact = await _get_or_create(
        session,
        result,
        Contact,
        f"contact {SECOND_AGENT_EMAIL}",
        {"email": SECOND_AGENT_EMAIL},
        salutation="Herr",
        first_name="Max",
        last_name="Makler",
        mobile=max_.mobile,
        status=ContactStatus.AGENT,
        user_id=max_.id,
        source="demo",
    )
    owner = await _get_or_create(
        session,
        result,
        Contact,
        "contact eigentuemer@example.com",
        {"email": "eigentuemer@example.com"},
        salutation="Frau",
        first_name="Olivia",
        last_name="Eigentümer",
        street="Lindenstraße 12",
        zip_code="10969",
        city="Berlin",
        status=ContactStatus.OWNER,
        owner_user_id=anna.id,
        source="demo",
    )
    return {"known": known, "max": max_contact, "owner": owner}


async def _property(
    session: AsyncSession,
    result: DemoResult,
    ref: str,
    *,
    visible_to: list[User],
    contact_persons: list[Contact],
    **values: Any,
) -> Property:
    label = f"property {ref}"
    prop = await _get_or_create(session, result, Property, label, {"external_ref": ref}, **values)
    if label in result.created:  # an existing property keeps whatever visibility and persons it was given
        for user in visible_to:
            session.add(PropertyVisibility(property_id=prop.id, user_id=user.id))
        for position, contact in enumerate(contact_persons):
            session.add(PropertyContactPerson(property_id=prop.id, contact_id=contact.id, position=position))
    return prop


# The demo office's showcase flat; the template previews show it too, so a preview looks like a real mail.
SHOWCASE_PROPERTY: dict[str, Any] = {
    "title": "Helle 3-Zimmer-Wohnung mit Balkon in Kreuzberg",
    "property_type": "Wohnung",
    "rooms": Decimal("3"),
    "living_area": Decimal("78.50"),
    "price": Decimal("1250.00"),
    "street": "Lindenstraße 12",
    "zip_code": "10969",
    "city": "Berlin",
    "key_data": {
        "Kaltmiete": "1.250 €",
        "Nebenkosten": "230 €",
        "Kaution": "3 Kaltmieten",
        "Etage": "2. OG",
        "Baujahr": "1998",
        "Bezugsfrei ab": "sofort",
        "Balkon": "ja",
    },
    # Relative: served by the web app itself, so it stays right whatever host and port the app runs on.
    "cover_image_url": "/static/demo/w-1001.jpg",
    "expose_url": "/static/demo/w-1001-expose.html",
}


async def _properties(session: AsyncSession, result: DemoResult, anna: User, max_: User, c: dict[str, Contact]) -> None:
    await _property(
        session,
        result,
        "W-1001",
        visible_to=[anna, max_],
        contact_persons=[c["max"], c["owner"]],
        marketing_status=MarketingStatus.ACTIVE,
        manager_user_id=anna.id,
        **SHOWCASE_PROPERTY,
    )
    await _property(
        session,
        result,
        "W-1002",
        visible_to=[anna],
        contact_persons=[],
        title="Einfamilienhaus mit Garten am Stadtrand",
        marketing_status=MarketingStatus.INACTIVE,
        manager_user_id=anna.id,
        property_type="Haus",
        rooms=Decimal("5"),
        living_area=Decimal("142.00"),
        price=Decimal("2400.00"),
        zip_code="12587",
        city="Berlin",
        key_data={"Kaltmiete": "2.400 €", "Grundstück": "610 m²"},
    )
    await _property(
        session,
        result,
        "W-1003",
        visible_to=[max_],
        contact_persons=[c["max"]],
        title="Loft im Hinterhof, Prenzlauer Berg",
        marketing_status=MarketingStatus.ACTIVE,
        manager_user_id=max_.id,
        property_type="Wohnung",
        rooms=Decimal("2"),
        living_area=Decimal("95.00"),
        price=Decimal("1890.00"),
        zip_code="10435",
        city="Berlin",
        key_data={"Kaltmiete": "1.890 €", "Etage": "EG"},
    )


async def _sales_process(session: AsyncSession, result: DemoResult) -> None:
    if await session.scalar(select(SalesProcess).where(SalesProcess.name == SALES_PROCESS)) is not None:
        return
    day = int(timedelta(days=1).total_seconds())
    process = SalesProcess(name=SALES_PROCESS, reminders_enabled=True, reminder_interval=1, reminder_unit="weeks")
    process.phases = [
        SalesPhase(position=0, name="Erstkontakt", duration_seconds=2 * day),
        SalesPhase(position=1, name="Besichtigung", duration_seconds=7 * day),
        SalesPhase(position=2, name="Vertragsabschluss", duration_seconds=14 * day),
    ]
    session.add(process)
    result.created.append(f"sales process {SALES_PROCESS}")


async def load_demo_data(sessions: SessionFactory) -> DemoResult:
    """Create whatever part of the demo office is missing, in one transaction."""
    result = DemoResult()
    async with sessions.begin() as session:
        anna, max_ = await _users(session, result)
        await _get_or_create(session, result, Mailbox, f"mailbox {MAILBOX}", {"address": MAILBOX}, main_user_id=anna.id)
        contacts = await _contacts(session, result, anna, max_)
        await _properties(session, result, anna, max_, contacts)
        await _sales_process(session, result)
        result.created += [f"template {key}" for key in await ensure_default_templates(session)]
    return result


def load_demo_sync(settings: Settings) -> list[str]:
    """`immoflow demo`: what was created (empty when everything was there already)."""
    from db.session import engine_from_settings, make_session_factory

    async def load() -> list[str]:
        engine = engine_from_settings(settings)
        try:
            return (await load_demo_data(make_session_factory(engine))).created
        finally:
            await engine.dispose()

    return asyncio.run(load())


async def has_users(sessions: SessionFactory) -> bool:
    """The dev stack loads the demo only into an office nobody has set up yet."""
    async with sessions() as session:
        return bool(await session.scalar(select(func.count()).select_from(User)))
