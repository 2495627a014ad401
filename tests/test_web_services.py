"""The use cases behind the inquiry, confirm, legal, privacy and ops handlers, called without HTTP:
their domain errors are what the handlers translate, so they must come out as such."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Contact, ObjectionScope
from db.session import SessionFactory
from settings import Settings
from starter.services import confirmations, inquiry_actions, privacy
from starter.services.context import Services
from starter.services.health import MAILBOX_STALE, MailboxContact, mailbox_health, mailbox_state
from tests import factories

NOW = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)


@pytest.fixture
def services(settings: Settings, engine: AsyncEngine, sessions: SessionFactory) -> Services:
    return Services(settings=settings, engine=engine, sessions=sessions)


def test_mailbox_state_reads_the_watchers_last_report() -> None:
    assert mailbox_state(MailboxContact("a@x.de", None, "login refused"), NOW) == "down: login refused"
    assert mailbox_state(MailboxContact("a@x.de", None, None), NOW) == "waiting for the first contact"
    assert mailbox_state(MailboxContact("a@x.de", NOW - timedelta(minutes=1), None), NOW) == "ok"
    stale = mailbox_state(MailboxContact("a@x.de", NOW - MAILBOX_STALE - timedelta(seconds=1), None), NOW)
    assert stale == "stale: last contact 2026-03-02 23:19 UTC"


async def test_no_enabled_mailbox_no_health_entry(services: Services) -> None:
    assert await mailbox_health(services) == {}


async def test_an_action_on_a_missing_inquiry_is_a_domain_error(services: Services) -> None:
    with pytest.raises(inquiry_actions.InquiryMissingError):
        await inquiry_actions.resend_confirmation(services, 424242)
    with pytest.raises(inquiry_actions.InquiryMissingError):
        await inquiry_actions.cancel_inquiry(services, 424242, reason="Test", user_id=None)


async def test_a_forged_confirmation_link_is_refused_as_invalid(services: Services) -> None:
    with pytest.raises(confirmations.ConfirmationRefusedError) as refused:
        await confirmations.find_confirmable(services, "not-a-signed-token")
    assert refused.value.code == "invalid"


async def test_erasure_waits_for_a_legal_duty_to_keep(services: Services, sessions: SessionFactory) -> None:
    contact = await factories.contact(
        sessions, email="halten@example.com", retention_reason="legal_duty", retain_until=date(9999, 12, 31)
    )
    with pytest.raises(privacy.LegalHoldError, match=r"bis 31\.12\.9999"):
        await privacy.erase_contact_data(services, contact.id, user_id=None, origin="test")
    async with sessions() as session:
        kept = await session.get(Contact, contact.id)
    assert kept is not None and kept.email == "halten@example.com"
    with pytest.raises(privacy.ContactMissingError, match="#424242"):
        await privacy.erase_contact_data(services, 424242, user_id=None, origin="test")


async def test_an_office_objection_needs_a_contact_with_an_address(
    services: Services, sessions: SessionFactory
) -> None:
    without = await factories.contact(sessions, email=None)
    with pytest.raises(privacy.NoEmailError):
        await privacy.record_office_objection(services, without.id, scope=ObjectionScope.ALL, user_id=None)
    with pytest.raises(privacy.ContactMissingError):
        await privacy.record_office_objection(services, 424242, scope=ObjectionScope.ALL, user_id=None)
    reachable = await factories.contact(sessions, email="nein@example.com")
    objection_id = await privacy.record_office_objection(
        services, reachable.id, scope=ObjectionScope.ADVERTISING, user_id=None
    )
    overview = await privacy.privacy_overview(services, reachable)
    assert [objection.id for objection in overview.objections] == [objection_id]
