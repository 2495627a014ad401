"""Mail classes and suppression on the exactly-once path, the office footer, RFC 8058 one-click objection."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from activities.messages import MessageActivities, SmtpTransport
from db.app_settings import save_section
from db.legal_settings import SECTION, LegalSettings, OfficeIdentity
from db.models import ConsentPurpose, DomainEvent, Message, MessageStatus, Objection
from db.session import SessionFactory
from messaging.outbox import NewMessage, enqueue_message
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.services.privacy import CONTACT_OBJECTED, Origin, confirm_consent, record_consent
from tests import factories
from tests.http import app_client

ORIGIN = Origin(ip="203.0.113.7", user_agent="pytest-browser/1.0", page="/confirm")


async def identity(sessions: SessionFactory) -> None:
    office = OfficeIdentity(
        name="Makler Müller GmbH", address="Hauptstr. 5, 10115 Berlin", impressum_url="https://makler.example/impressum"
    )
    async with sessions.begin() as session:
        await save_section(session, SECTION, LegalSettings(identity=office))


async def enqueue(sessions: SessionFactory, settings: Settings, template_key: str, contact_id: int, to: str) -> Message:
    async with sessions.begin() as session:
        message = await enqueue_message(
            session,
            NewMessage(
                idempotency_key=f"test:{uuid.uuid4()}",
                template_key=template_key,
                sender="Anna Agent <anna@office.example>",
                recipient=f"Klara Bekannt <{to}>",
                subject="Hallo",
                body_text="Text der Mail.\n",
                contact_id=contact_id,
            ),
            settings,
        )
        await session.flush()
        session.expunge(message)
        return message


async def deliver(sessions: SessionFactory, settings: Settings, message_id: int) -> Message:
    activities = MessageActivities(sessions, {"email": SmtpTransport(settings)})
    await activities.deliver_message(message_id)
    async with sessions() as session:
        row = await session.get(Message, message_id)
        assert row is not None
        return row


async def test_advertising_without_consent_is_suppressed_with_the_reason(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    klara = await factories.contact(sessions)
    birthday = await enqueue(sessions, settings, "automation.birthday", klara.id, "klara@example.com")
    assert birthday.mail_class == "advertising"
    row = await deliver(sessions, settings, birthday.id)
    assert row.status == MessageStatus.SUPPRESSED
    assert row.error is not None and "Einwilligung" in row.error
    assert smtp_sink.received == []
    # A second delivery attempt (a retry) keeps it suppressed and still sends nothing.
    assert (await deliver(sessions, settings, birthday.id)).status == MessageStatus.SUPPRESSED
    assert smtp_sink.received == []


async def test_a_pending_consent_does_not_count_a_confirmed_one_does(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    await identity(sessions)
    klara = await factories.contact(sessions)
    async with sessions.begin() as session:
        consent = await record_consent(
            session,
            purpose=ConsentPurpose.ADVERTISING,
            email="Klara@Example.com",
            text="Angebote?",
            version="v1",
            origin=ORIGIN,
        )
        token = consent.confirm_token
    assert token
    first = await enqueue(sessions, settings, "automation.first_email", klara.id, "klara@example.com")
    assert (await deliver(sessions, settings, first.id)).status == MessageStatus.SUPPRESSED

    async with sessions.begin() as session:
        confirmed = await confirm_consent(session, token, Origin(ip="198.51.100.1", user_agent="Mail", page="/consent"))
        assert confirmed is not None and confirmed.status == "confirmed" and confirmed.confirm_ip == "198.51.100.1"
    second = await enqueue(sessions, settings, "automation.first_email", klara.id, "klara@example.com")
    assert (await deliver(sessions, settings, second.id)).status == MessageStatus.SENT
    [mail] = smtp_sink.received
    # Every prospect mail: the office's footer and the RFC 8058 headers.
    assert "Makler Müller GmbH" in mail.text and "Hauptstr. 5, 10115 Berlin" in mail.text
    assert "Impressum: https://makler.example/impressum" in mail.text
    assert (
        str(mail.message["List-Unsubscribe"]).strip() == f"<http://testserver/unsubscribe/{second.unsubscribe_token}>"
    )
    assert str(mail.message["List-Unsubscribe-Post"]).strip() == "List-Unsubscribe=One-Click"


async def test_mails_to_office_staff_carry_no_footer_and_are_never_suppressed(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with sessions.begin() as session:
        message = await enqueue_message(
            session,
            NewMessage(
                idempotency_key="lead:1:episode:1:reminder:1",
                template_key="lead.reminder",
                sender="immoflow <noreply@immoflow.local>",
                recipient="anna@office.example",
                body_text="Lead überfällig\n",
            ),
            settings,
        )
        await session.flush()
        message_id, mail_class, token = message.id, message.mail_class, message.unsubscribe_token
    assert mail_class is None and token is None
    assert (await deliver(sessions, settings, message_id)).status == MessageStatus.SENT
    assert "List-Unsubscribe" not in smtp_sink.received[0].message


@pytest.mark.parametrize("body", ["List-Unsubscribe=One-Click"])
async def test_one_click_objection_with_a_plain_post_as_mail_clients_send_it(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink, body: str
) -> None:
    klara = await factories.contact(sessions)
    confirmation = await enqueue(sessions, settings, "inquiry.confirmation", klara.id, "klara@example.com")
    assert confirmation.mail_class == "transactional" and confirmation.unsubscribe_token
    async with app_client(settings, auth=None) as http:  # no session, no cookie, no CSRF token: a mail client
        response = await http.post(
            f"/unsubscribe/{confirmation.unsubscribe_token}",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200, response.text
        unknown = await http.post(
            "/unsubscribe/nope", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert unknown.status_code == 404
    async with sessions() as session:
        [objection] = list(await session.scalars(select(Objection)))
        assert (objection.scope, objection.source, objection.contact_id) == ("all", "one-click", klara.id)
        event = await session.scalar(select(DomainEvent).where(DomainEvent.kind == CONTACT_OBJECTED))
        assert event is not None and event.payload["objection_id"] == objection.id
    # Objected to everything: even the prospect's own inquiry mails stop, on the next delivery.
    later = await enqueue(sessions, settings, "inquiry.expose", klara.id, "KLARA@example.com")
    row = await deliver(sessions, settings, later.id)
    assert row.status == MessageStatus.SUPPRESSED and row.error is not None and "Widerspruch" in row.error
    assert smtp_sink.received == []


async def test_the_objection_page_lets_a_person_keep_transactional_mail(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    await identity(sessions)
    klara = await factories.contact(sessions)
    mail = await enqueue(sessions, settings, "inquiry.confirmation", klara.id, "klara@example.com")
    async with app_client(settings, auth=None) as http:
        page = await http.get(f"/unsubscribe/{mail.unsubscribe_token}")
        assert page.status_code == 200 and 'value="advertising"' in page.text
        assert "Makler Müller GmbH" in page.text and "https://makler.example/impressum" in page.text  # identity
        bad = await http.post(f"/unsubscribe/{mail.unsubscribe_token}", data={"scope": "alles"})
        assert bad.status_code == 422 and "wählen" in bad.text
        done = await http.post(f"/unsubscribe/{mail.unsubscribe_token}", data={"scope": "advertising"})
        assert done.status_code == 200 and "keine Werbung mehr" in done.text
    expose = await enqueue(sessions, settings, "inquiry.expose", klara.id, "klara@example.com")
    assert (await deliver(sessions, settings, expose.id)).status == MessageStatus.SENT
    birthday = await enqueue(sessions, settings, "automation.birthday", klara.id, "klara@example.com")
    row = await deliver(sessions, settings, birthday.id)
    assert row.status == MessageStatus.SUPPRESSED and row.error == "Widerspruch des Empfängers gegen Werbung"
