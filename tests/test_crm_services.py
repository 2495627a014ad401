"""The CRM use cases the web handlers call (starter/services/crm.py, contacts, properties, mailboxes), on a real
database: what they write, and the domain errors handlers translate into status codes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Contact, DomainEvent, InboundMail, InboundStatus, User
from db.session import SessionFactory
from settings import Settings
from starter.services import contacts, crm, mailboxes, properties
from starter.services.context import Services
from starter.services.office_choices import office_users
from tests import factories


@pytest.fixture
def services(settings: Settings, engine: AsyncEngine, sessions: SessionFactory) -> Services:
    return Services(settings=settings, engine=engine, sessions=sessions)


@pytest.fixture
async def office(sessions: SessionFactory) -> dict[str, Any]:
    return await factories.office(sessions)


async def kinds(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(DomainEvent.kind).order_by(DomainEvent.id)))


async def test_a_missing_link_is_refused_before_anything_is_written(
    services: Services, sessions: SessionFactory, office: dict[str, Any]
) -> None:
    with pytest.raises(crm.MissingLinkError, match="Objekt #999999 existiert nicht"):
        await crm.create_note(services, {"text": "x", "contact_id": None, "property_id": 999_999})
    assert await kinds(sessions) == []
    note = await crm.create_note(services, {"text": "Objekt archivieren", "property_id": office["active"].id})
    assert note.id is not None
    assert await kinds(sessions) == ["note.created"]


async def test_a_deal_moves_once_and_a_missing_deal_is_not_found(services: Services, sessions: SessionFactory) -> None:
    contact = await crm.create_contact(services, {"last_name": "Kunde", "source": "api"})
    deal = await crm.create_deal(services, {"contact_id": contact.id, "property_id": None, "stage": "Anfrage"})
    moved, changed = await crm.change_deal_stage(services, deal.id, "Reserviert")
    again, changed_again = await crm.change_deal_stage(services, deal.id, "Reserviert")
    assert (moved.stage, changed, again.stage, changed_again) == ("Reserviert", True, "Reserviert", False)
    assert (await kinds(sessions)).count("deal.stage_changed") == 1
    with pytest.raises(crm.NotFoundError):
        await crm.get_deal(services, deal.id + 1000)
    assert not isinstance(crm.NotFoundError("x"), crm.MissingLinkError)  # 404 and 422 stay apart


async def test_activities_default_to_now_and_filter_by_contact(services: Services, office: dict[str, Any]) -> None:
    first = await crm.create_contact(services, {"last_name": "Erste", "source": "api"})
    second = await crm.create_contact(services, {"last_name": "Zweite", "source": "api"})
    mine = await crm.create_activity(services, {"kind": "Absage", "contact_id": first.id, "occurred_at": None})
    await crm.create_activity(services, {"kind": "Zusage", "contact_id": second.id, "occurred_at": None})
    assert mine.occurred_at is not None
    listed = await crm.list_activities(services, contact_id=first.id)
    assert [a.id for a in listed] == [mine.id]


async def test_contact_use_cases_tell_a_missing_contact_from_a_missing_owner(services: Services) -> None:
    data = contacts.ContactUpdate(last_name="Neu", email="Neu@Example.com")
    contact = await contacts.add_office_contact(services, data)
    found, total = await contacts.search_contacts(services, contacts.ContactFilter(query="neu@"))
    assert ([c.id for c in found], total) == ([contact.id], 1)
    with pytest.raises(contacts.ContactNotFoundError):
        await contacts.save_contact(services, contact.id + 1000, data)
    with pytest.raises(contacts.ContactError) as refused:
        await contacts.save_contact(services, contact.id, data.model_copy(update={"owner_user_id": 999_999}))
    assert not isinstance(refused.value, contacts.ContactNotFoundError)
    archived = await contacts.archive_contact(services, contact.id, True)
    assert archived.status == "archived"
    assert await contacts.search_contacts(services, contacts.ContactFilter(query="neu@")) == ([], 0)


async def test_office_users_leave_out_the_deactivated_only_when_asked(
    services: Services, sessions: SessionFactory
) -> None:
    async with sessions.begin() as session:
        session.add_all([User(email="a@office.example", name="Aktiv"), User(email="b@office.example", name="Bea")])
        await session.flush()
        gone = await session.scalar(select(User).where(User.name == "Bea"))
        assert gone is not None
        gone.is_active = False
    assert [u.name for u in await office_users(services)] == ["Aktiv"]
    assert [u.name for u in await office_users(services, active_only=False)] == ["Aktiv", "Bea"]


async def test_a_property_form_shows_german_numbers(services: Services, office: dict[str, Any]) -> None:
    values = await properties.property_form_values(services, office["active"].id)
    assert values is not None and (values["rooms"], values["living_area"]) == ("3", "78,50")
    assert await properties.property_form_values(services, 999_999) is None
    assert not await properties.property_exists(services, 999_999)
    with pytest.raises(properties.PropertyError):
        await properties.remove_expose(services, 999_999)
    assert await properties.find_expose(services, office["active"].id) is None  # a link, no stored PDF


async def test_assigning_a_missing_mail_is_a_lookup_error_and_the_queue_lists_what_waits(
    services: Services, sessions: SessionFactory, office: dict[str, Any]
) -> None:
    with pytest.raises(LookupError):
        await mailboxes.assign_unrecognised(services, 999_999, {"last_name": "X"}, None)
    async with sessions.begin() as session:
        waiting = InboundMail(
            mailbox_id=office["mailbox"].id,
            dedup_key="hallo",
            uidvalidity=1,
            uid=1,
            raw=b"Subject: Hallo\r\n\r\nText",
            status=InboundStatus.UNRECOGNISED,
        )
        session.add(waiting)
    queue = await mailboxes.unrecognised_mails(services)
    assert [(mail.id, address) for mail, address in queue] == [(waiting.id, "anfragen@office.example")]
    assert [(address, mail.id) for address, mail in await mailboxes.recent_inbound_mail(services)] == [
        ("anfragen@office.example", waiting.id)
    ]
    async with sessions() as session:
        assert await session.scalar(select(Contact.id)) is None  # nothing was made of the missing mail
