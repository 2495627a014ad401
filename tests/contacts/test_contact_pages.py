"""Contact pages and APIs over HTTP: search, a contact's page with everything known, new, edit, archive."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import (
    Activity,
    Appointment,
    Contact,
    DomainEvent,
    Lead,
    Message,
    Note,
    SalesPhase,
    SalesProcess,
    SlotRequest,
    Task,
)
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.http import app_client

pytestmark = pytest.mark.one_backend

# A fixed instant: the page shows what is stored, whatever the time of day the test runs at.
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


async def _people(sessions: SessionFactory) -> dict[str, Any]:
    office = await factories.office(sessions)
    klara = await factories.contact(sessions, phone="030 / 123 45-67", zip_code="10115", city="Berlin")
    other = await factories.contact(
        sessions, first_name="Bernd", last_name="Brot", email="bernd@example.org", zip_code="20095"
    )
    archived = await factories.contact(
        sessions, first_name="Alt", last_name="Archiv", email="alt@example.com", status="archived"
    )
    await factories.contact(sessions, first_name="Björn", last_name="Öztürk", email="bjoern@example.org")
    return {**office, "klara": klara, "bernd": other, "archived": archived}


async def test_search_by_name_email_phone_and_zip(sessions: SessionFactory, settings: Settings) -> None:
    await _people(sessions)
    async with app_client(settings) as http:
        listed = await http.get("/contacts")
        ids = re.findall(r'data-contact-id="(\d+)"', listed.text)
        assert len(ids) == 3  # the archived one is not in the list
        for query, expected in (
            ("klara bekannt", "Klara Bekannt"),
            ("bernd@", "Bernd Brot"),
            ("12345", "Klara Bekannt"),  # typed without the spaces and slashes it is stored with
            ("20095", "Bernd Brot"),
            ("BROT", "Bernd Brot"),
            ("öztürk", "Björn Öztürk"),  # a capital umlaut, which SQLite's lower() does not fold
        ):
            page = await http.get("/contacts", params={"q": query})
            assert expected in page.text, query
            assert len(re.findall(r'data-contact-id="', page.text)) == 1, query
        assert "Alt Archiv" in (await http.get("/contacts", params={"archived": "true"})).text
        api = (await http.get("/api/contacts", params={"q": "030123"})).json()
        assert [item["last_name"] for item in api["items"]] == ["Bekannt"] and api["total"] == 1
        assert (await http.get("/api/contacts", params={"status": "nonsense"})).status_code == 422


async def test_the_contact_page_shows_everything_the_office_knows(sessions: SessionFactory, settings: Settings) -> None:
    people = await _people(sessions)
    klara, agent, prop = people["klara"], people["agent"], people["active"]
    inquiry = await factories.inquiry(sessions, email="klara@example.com")
    async with sessions.begin() as session:
        process = SalesProcess(name="Vermietung", phases=[SalesPhase(position=1, name="Erstkontakt")])
        session.add(process)
        await session.flush()
        lead = Lead(
            title="Klara sucht Wohnung",
            contact_id=klara.id,
            property_id=prop.id,
            process_id=process.id,
            phase_id=process.phases[0].id,
            phase_entered_at=AT,
            taker_user_id=agent.id,
        )
        session.add(lead)
        await session.flush()
        session.add_all(
            [
                Activity(kind="absage", reason="Zu teuer", contact_id=klara.id, occurred_at=AT),
                Note(text="Ruft Montag zurück", contact_id=klara.id),
                Message(
                    idempotency_key="test:klara:1",
                    sender="anna@office.example",
                    recipient="klara@example.com",
                    subject="Ihr Exposé W-1001",
                    body_text="Guten Tag, anbei das Exposé: https://example.com/x",
                    body_html="<p>Guten Tag</p>",
                    status="sent",
                    contact_id=klara.id,
                ),
                Task(title="Rückruf Klara", contact_id=klara.id, assignee_user_id=agent.id, due_at=AT),
                Appointment(
                    title="Besichtigung W-1001",
                    starts_at=AT + timedelta(days=3),
                    ends_at=AT + timedelta(days=3, hours=1),
                    contact_id=klara.id,
                    property_id=prop.id,
                ),
                SlotRequest(
                    contact_id=klara.id,
                    property_id=prop.id,
                    recipient_kind="user",
                    recipient_user_id=agent.id,
                    response_types=["email"],
                    expires_at=AT + timedelta(days=14),
                    link_nonce="n" * 32,
                    send_invitation=True,
                ),
            ]
        )
    async with app_client(settings) as http:
        page = await http.get(f"/contacts/{klara.id}")
        assert page.status_code == 200
        html = page.text
        sections = {
            name: html.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]
            for name in ("journal", "mails", "inquiries", "leads", "tasks", "appointments", "slot-requests")
        }
        assert "Absage" in sections["journal"] and "Zu teuer" in sections["journal"]
        assert "Ruft Montag zurück" in sections["journal"]
        assert "Ihr Exposé W-1001" in sections["mails"]
        assert f"/dashboard/inquiries/{inquiry.id}" in sections["inquiries"]  # by e-mail, before it was linked
        assert "Klara sucht Wohnung" in sections["leads"] and "Anna Agent" in sections["leads"]
        assert "Rückruf Klara" in sections["tasks"] and "20.11.2026 10:30" in sections["tasks"]
        assert "Besichtigung W-1001" in sections["appointments"]
        assert "/slot-requests/" in sections["slot-requests"]
        # A mail opens as sent: the text with its link, the HTML in a sandboxed frame.
        message_id = re.search(rf"/contacts/{klara.id}/messages/(\d+)", html)
        assert message_id
        mail = await http.get(f"/contacts/{klara.id}/messages/{message_id.group(1)}")
        assert mail.status_code == 200 and 'sandbox=""' in mail.text and 'href="https://example.com/x"' in mail.text
        other = people["bernd"]
        assert (await http.get(f"/contacts/{other.id}/messages/{message_id.group(1)}")).status_code == 404
        missing = await http.get("/contacts/999999")
        assert missing.status_code == 404 and "Kontakt #999999 existiert nicht." in missing.text


async def test_new_contact_records_its_event_and_bad_input_is_shown(
    sessions: SessionFactory, settings: Settings
) -> None:
    await _people(sessions)
    async with app_client(settings) as http:
        assert (await http.get("/contacts/new")).status_code == 200
        bad = await http.post("/contacts/new", data={"last_name": "Neu", "email": "kein-at", "status": "prospect"})
        assert bad.status_code == 422 and "E-Mail: keine gültige E-Mail-Adresse" in bad.text
        assert 'value="Neu"' in bad.text  # what was typed is kept
        made = await http.post(
            "/contacts/new",
            data={
                "first_name": "Nina",
                "last_name": "Neu",
                "email": "Nina@Example.com",
                "status": "prospect",
                "newsletter": "true",
            },
        )
        assert made.status_code == 303
    async with sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.last_name == "Neu"))
        assert contact is not None and contact.email == "nina@example.com" and contact.newsletter
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "contact.created")))
        assert [event.payload["contact_id"] for event in events] == [contact.id]


async def test_edit_and_archive(sessions: SessionFactory, settings: Settings) -> None:
    people = await _people(sessions)
    klara, agent = people["klara"], people["agent"]
    async with app_client(settings) as http:
        form = await http.get(f"/contacts/{klara.id}/edit")
        assert form.status_code == 200 and 'value="klara@example.com"' in form.text
        saved = await http.post(
            f"/contacts/{klara.id}/edit",
            data={
                "salutation": "Frau",
                "first_name": "Klara",
                "last_name": "Bekannt-Neu",
                "email": "klara@example.com",
                "zip_code": "10117",
                "birthday": "1990-05-17",
                "status": "customer",
                "owner_user_id": str(agent.id),
            },
        )
        assert saved.status_code == 303
        refused = await http.post(f"/contacts/{klara.id}/edit", data={"last_name": "", "status": "customer"})
        assert refused.status_code == 422 and "Nachname" in refused.text
        assert (await http.post(f"/contacts/{klara.id}/archive")).status_code == 303
        assert "Bekannt-Neu" not in (await http.get("/contacts")).text
        assert (await http.post("/contacts/999999/archive")).status_code == 404
        assert (await http.post(f"/contacts/{klara.id}/restore")).status_code == 303
        assert "Bekannt-Neu" in (await http.get("/contacts")).text
        assert (await http.post(f"/api/contacts/{klara.id}/archive")).json()["status"] == "archived"
        assert (await http.post("/api/contacts/999999/archive")).status_code == 404
        restored = (await http.post(f"/api/contacts/{klara.id}/restore")).json()
        assert restored["status"] == "prospect"
        replaced = await http.put(
            f"/api/contacts/{klara.id}", json={"last_name": "Per API", "email": "KLARA@example.com"}
        )
        assert replaced.status_code == 200 and replaced.json()["email"] == "klara@example.com"
        assert (await http.put("/api/contacts/999999", json={"last_name": "X"})).status_code == 404
        assert (
            await http.put(f"/api/contacts/{klara.id}", json={"last_name": "X", "owner_user_id": 999999})
        ).status_code == 422
    async with sessions() as session:
        row = await session.get(Contact, klara.id)
        assert row is not None and row.last_name == "Per API" and row.zip_code is None


async def test_journal_entries_from_the_contact_page_write_their_events(
    sessions: SessionFactory, settings: Settings
) -> None:
    people = await _people(sessions)
    klara = people["klara"]
    async with app_client(settings) as http:
        note = await http.post(f"/contacts/{klara.id}/journal", data={"kind": "notiz", "text": "Mag Altbau"})
        assert note.status_code == 303
        stop = await http.post(
            f"/contacts/{klara.id}/journal", data={"kind": "absage", "reason": "Kein Kontakt mehr gewünscht"}
        )
        assert stop.status_code == 303
        assert (await http.post(f"/contacts/{klara.id}/journal", data={"kind": "notiz", "text": ""})).status_code == 303
        assert (await http.post(f"/contacts/{klara.id}/journal", data={"kind": "hack"})).status_code == 303
        assert (await http.post("/contacts/999999/journal", data={"kind": "notiz", "text": "x"})).status_code == 404
        page = await http.get(f"/contacts/{klara.id}")
        journal = page.text.split('id="journal"', 1)[1].split("</section>", 1)[0]
        assert "Mag Altbau" in journal and "Kein Kontakt mehr gewünscht" in journal
    async with sessions() as session:
        kinds = sorted(event.kind for event in await session.scalars(select(DomainEvent)))
        activity = await session.scalar(select(Activity).where(Activity.contact_id == klara.id))
    assert kinds == ["activity.created", "note.created"]
    assert activity is not None and activity.kind == "absage"
