"""The Art. 15 export as a PDF (issue 16, point 6): from the privacy page and the API, admins only, audited like
the JSON and HTML exports; the PDF's text, read back with pypdf, carries the contact's data."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf
from sqlalchemy import select

from db.app_settings import save_section
from db.legal_settings import SECTION, LegalSettings, OfficeIdentity
from db.models import ConsentRecord, Message, Note, PrivacyAudit, User
from db.session import SessionFactory
from domain.addresses import email_hash
from domain.passwords import hash_password
from settings import Settings
from tests import factories
from tests.http import app_client, login

AGENT, PASSWORD = "makler@office.example", "richtig-geheim"
BODY = "Guten Tag Frau Şahin,\n\nanbei das Exposé zur Wohnung in der Oranienstraße 12.\n\nMit freundlichen Grüßen"


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


async def seeded(sessions: SessionFactory) -> int:
    """A contact with a name beyond Latin-1, a note, a mail with its body and a consent record."""
    contact = await factories.contact(
        sessions, first_name="Łucja", last_name="Şahin", email="lucja@example.com", phone="+49 30 5550123"
    )
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        await save_section(session, SECTION, LegalSettings(identity=OfficeIdentity(name="Makler Müller GmbH")))
        session.add_all(
            [
                Note(text="Möchte im Frühjahr umziehen", contact_id=contact.id),
                Message(
                    idempotency_key=f"test:{contact.id}:expose",
                    channel="email",
                    template_key="inquiry.expose",
                    sender="Anna Agent <anna@office.example>",
                    recipient="Łucja Şahin <lucja@example.com>",
                    subject="Ihr Exposé: Helle 3-Zimmer-Wohnung",
                    body_text=BODY,
                    contact_id=contact.id,
                    status="sent",
                ),
                ConsentRecord(
                    purpose="advertising",
                    status="confirmed",
                    email="lucja@example.com",
                    email_hash=email_hash("lucja@example.com"),
                    contact_id=contact.id,
                    text="Ich möchte passende Angebote per E-Mail erhalten.",
                    text_version="v-test",
                    given_at=now,
                    confirmed_at=now,
                ),
            ]
        )
    return contact.id


async def test_the_pdf_export_carries_the_contacts_data_and_is_audited(
    sessions: SessionFactory, settings: Settings
) -> None:
    contact_id = await seeded(sessions)
    async with app_client(settings) as http:
        page = await http.get(f"/contacts/{contact_id}/privacy")
        assert f'href="/contacts/{contact_id}/privacy/export.pdf"' in page.text
        from_page = await http.get(f"/contacts/{contact_id}/privacy/export.pdf")
        from_api = await http.get(f"/api/contacts/{contact_id}/export", params={"format": "pdf"})
        as_json = await http.get(f"/api/contacts/{contact_id}/export")
    for response in (from_page, from_api):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert f'filename="auskunft-kontakt-{contact_id}.pdf"' in response.headers["content-disposition"]
        assert response.content.startswith(b"%PDF-")
        text = pdf_text(response.content)
        assert f"Auskunft nach Art. 15 DSGVO – Kontakt #{contact_id}" in text
        assert "Makler Müller GmbH" in text
        for value in ("Łucja", "Şahin", "lucja@example.com", "+49 30 5550123", "Möchte im Frühjahr umziehen"):
            assert value in text, value
        assert "Ihr Exposé: Helle 3-Zimmer-Wohnung" in text and "Oranienstraße 12" in text  # the mail's body
        assert "Einwilligungen (1)" in text and "v-test" in text
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    async with sessions() as session:
        audit = list(await session.scalars(select(PrivacyAudit).order_by(PrivacyAudit.id)))
    assert [(a.action, a.contact_id, a.detail) for a in audit] == [
        ("export", contact_id, {"format": "pdf"}),
        ("export", contact_id, {"format": "pdf"}),
        ("export", contact_id, {"format": "json"}),
    ]


async def test_the_pdf_export_is_refused_with_a_reason(sessions: SessionFactory, settings: Settings) -> None:
    contact_id = await seeded(sessions)
    async with sessions.begin() as session:
        session.add(User(email=AGENT, name="Max Makler", password_hash=hash_password(PASSWORD), role="agent"))
    async with app_client(settings) as http:
        unknown_page = await http.get("/contacts/999999/privacy/export.pdf")
        unknown_api = await http.get("/api/contacts/999999/export", params={"format": "pdf"})
        bad_format = await http.get(f"/api/contacts/{contact_id}/export", params={"format": "docx"})
    assert unknown_page.status_code == 404 and unknown_api.status_code == 404
    assert "Kontakt #999999 existiert nicht" in unknown_api.text
    assert bad_format.status_code == 422 and "format" in bad_format.text
    async with app_client(settings, auth=None) as agent:
        await login(agent, AGENT, PASSWORD)
        refused_page = await agent.get(f"/contacts/{contact_id}/privacy/export.pdf")
        refused_api = await agent.get(f"/api/contacts/{contact_id}/export", params={"format": "pdf"})
    assert refused_page.status_code == 403 and "Admins vorbehalten" in refused_page.text
    assert refused_api.status_code == 403 and refused_api.json()["detail"] == "Nur Admins dürfen das (Rolle admin)."
    async with sessions() as session:
        assert list(await session.scalars(select(PrivacyAudit))) == []  # nothing exported, nothing logged
