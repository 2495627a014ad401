"""The mailbox settings (page and API) and the queue of unrecognised mails, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from db.models import DomainEvent, InboundMail, Inquiry, Mailbox
from db.session import SessionFactory
from settings import Settings
from starter.intake.mail_service import MailIntakeService
from starter.intake.service import IntakeService
from tests import factories
from tests.http import app_client

pytestmark = pytest.mark.one_backend

DATA = Path(__file__).parent.parent / "data" / "mail"
SECRET = "Sehr-geheim-4711!"


def development(settings: Settings) -> Settings:
    return settings.model_copy(update={"env": "development"})


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[AsyncClient]:
    async with app_client(settings) as client:
        yield client


@pytest.fixture
async def data(sessions: SessionFactory) -> dict[str, Any]:
    return await factories.office(sessions)


def body(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    values = {
        "address": "Postfach@Office.example", "main_user_id": data["agent"].id, "imap_host": "imap.office.example",
        "imap_port": 993, "imap_tls": "tls", "imap_user": "postfach@office.example", "password": SECRET,
        "folder": "INBOX", "processed_action": "move", "processed_folder": "Erledigt", "enabled": True,
    }  # fmt: skip
    values.update(changes)
    return values


async def test_the_api_stores_the_password_encrypted_and_never_shows_it(
    http: AsyncClient, sessions: SessionFactory, data: dict[str, Any]
) -> None:
    created = await http.post("/api/mailboxes", json=body(data))
    assert created.status_code == 201, created.text
    assert created.json()["address"] == "postfach@office.example"
    assert created.json()["has_password"] is True
    mailbox_id = created.json()["id"]
    kept = await http.put(f"/api/mailboxes/{mailbox_id}", json=body(data, password=None, folder="Anfragen"))
    assert kept.status_code == 200 and kept.json()["has_password"] is True and kept.json()["folder"] == "Anfragen"
    for response in (created, kept, await http.get("/api/mailboxes"), await http.get("/settings/mailboxes"),
                     await http.get(f"/settings/mailboxes/{mailbox_id}")):  # fmt: skip
        assert response.status_code == 200 or response.status_code == 201
        assert SECRET not in response.text
    async with sessions() as session:
        row = await session.get(Mailbox, mailbox_id)
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "mailbox.changed")))
    assert row is not None and row.imap_password_encrypted and SECRET not in row.imap_password_encrypted
    assert [e.payload for e in events] == [{"mailbox_id": mailbox_id, "enabled": True}] * 2


async def test_the_api_refuses_an_incomplete_mailbox_with_reasons(http: AsyncClient, data: dict[str, Any]) -> None:
    response = await http.post("/api/mailboxes", json=body(data, imap_host=None, processed_folder=""))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"imap_host", "processed_folder"}
    assert (await http.post("/api/mailboxes", json=body(data, imap_tls="starttls"))).status_code == 422
    assert (await http.post("/api/mailboxes", content=b"{kaputt")).status_code == 400


async def test_the_form_saves_and_keeps_the_password_when_left_empty(
    http: AsyncClient, sessions: SessionFactory, data: dict[str, Any]
) -> None:
    form = {k: str(v) for k, v in body(data).items() if k != "enabled"} | {"enabled": "1"}
    assert (await http.post("/settings/mailboxes", data=form)).status_code == 303
    async with sessions() as session:
        row = await session.scalar(select(Mailbox).where(Mailbox.address == "postfach@office.example"))
    assert row is not None and row.enabled
    token = row.imap_password_encrypted
    again = await http.post(f"/settings/mailboxes/{row.id}", data=form | {"password": "", "folder": "Portale"})
    assert again.status_code == 303
    async with sessions() as session:
        row = await session.get(Mailbox, row.id)
    assert row is not None and row.folder == "Portale" and row.imap_password_encrypted == token
    refused = await http.post("/settings/mailboxes", data=form | {"address": "kein-postfach"})
    assert refused.status_code == 422
    assert "kein-postfach" in refused.text and SECRET not in refused.text


async def unrecognised(sessions: SessionFactory, mailbox_id: int) -> int:
    service = MailIntakeService(sessions, IntakeService(sessions))
    stored = await service.store(mailbox_id, 1, 1, (DATA / "unrecognised_newsletter.eml").read_bytes())
    assert await service.process(stored.inbound_id) == "unrecognised"
    return stored.inbound_id


async def test_an_unrecognised_mail_waits_in_the_queue_and_an_agent_assigns_it(
    http: AsyncClient, sessions: SessionFactory, data: dict[str, Any]
) -> None:
    inbound_id = await unrecognised(sessions, data["mailbox"].id)
    listing = await http.get("/mail/unrecognised")
    assert "Marktbericht Dezember" in listing.text and f"/mail/unrecognised/{inbound_id}" in listing.text
    detail = await http.get(f"/mail/unrecognised/{inbound_id}")
    assert "Karl Klein (karl.klein@example.com)" in detail.text  # the raw mail, and the message prefilled
    form = {"source": "email", "property_ref": "W-1001", "first_name": "Karl", "last_name": "Klein",
            "email": "kein Mailadresse", "message": "fragt nach W-1001"}  # fmt: skip
    refused = await http.post(f"/mail/unrecognised/{inbound_id}/assign", data=form)
    assert refused.status_code == 422
    assert "Keine Anfrage angelegt" in refused.text and 'value="kein Mailadresse"' in refused.text
    assigned = await http.post(
        f"/mail/unrecognised/{inbound_id}/assign", data=form | {"email": "karl.klein@example.com"}
    )
    assert assigned.status_code == 303
    async with sessions() as session:
        inquiry = (await session.scalars(select(Inquiry))).one()
        row = await session.get(InboundMail, inbound_id)
    assert assigned.headers["location"] == f"/dashboard/inquiries/{inquiry.id}"
    assert (inquiry.email, inquiry.property_ref, inquiry.external_id) == (
        "karl.klein@example.com", "W-1001", "news-12@makler-news.example",
    )  # fmt: skip
    assert inquiry.mailbox_address == data["mailbox"].address
    assert row is not None and (row.status, row.inquiry_id) == ("assigned", inquiry.id)
    assert "Marktbericht" not in (await http.get("/mail/unrecognised")).text
    twice = await http.post(f"/mail/unrecognised/{inbound_id}/assign", data=form | {"email": "k@example.com"})
    assert twice.status_code == 409


async def test_an_agent_discards_an_unrecognised_mail(
    http: AsyncClient, sessions: SessionFactory, data: dict[str, Any]
) -> None:
    inbound_id = await unrecognised(sessions, data["mailbox"].id)
    response = await http.post(f"/mail/unrecognised/{inbound_id}/discard", data={"reason": "Werbung"})
    assert response.status_code == 303
    async with sessions() as session:
        row = await session.get(InboundMail, inbound_id)
    assert row is not None and (row.status, row.detail) == ("discarded", "Verworfen: Werbung")
    assert len(row.raw) > 0  # discarded is still kept
    assert (await http.get("/mail/unrecognised/99999")).status_code == 404


async def test_dev_mail_answers_a_caught_mail_to_its_reply_to(settings: Settings, smtp_sink: Any) -> None:
    caught = settings.data_dir / "mail"
    caught.mkdir(parents=True, exist_ok=True)
    original = (
        b"From: Anna Agent <anna@office.example>\r\nTo: Nina Neu <neu@example.com>\r\n"
        b"Reply-To: anfragen@office.example\r\nSubject: Bitte bestaetigen\r\n"
        b"Message-ID: <immoflow-7@office.example>\r\n\r\nHallo\r\n"
    )
    (caught / "20261201T100000000000-000001.eml").write_bytes(original)
    async with app_client(development(settings)) as http:  # /dev/* exists in development only
        response = await http.post("/dev/mail/20261201T100000000000-000001.eml/reply")
    assert response.status_code == 303
    [answer] = [m for m in smtp_sink.received if "anfragen@office.example" in m.rcpt_tos]
    assert answer.message["In-Reply-To"] == "<immoflow-7@office.example>"
    assert "neu@example.com" in str(answer.message["From"])
    assert answer.subject == "Re: Bitte bestaetigen"


async def test_a_failing_login_is_shown_on_the_mailbox_page(
    http: AsyncClient, sessions: SessionFactory, settings: Settings, data: dict[str, Any]
) -> None:
    async with sessions.begin() as session:
        mailbox = await session.get(Mailbox, data["mailbox"].id)
        assert mailbox is not None
        mailbox.imap_host, mailbox.imap_user, mailbox.enabled = "imap.office.example", "x", True
        mailbox.last_error = "IMAP-Anmeldung als x abgelehnt"
    page = await http.get("/settings/mailboxes")
    assert "IMAP-Anmeldung als x abgelehnt" in page.text and "erneut versucht" in page.text
    async with app_client(development(settings)) as dev:  # /healthz has its details in development (or for ops)
        health = (await dev.get("/healthz")).json()
    assert health["mailboxes"] == {data["mailbox"].address: "down: IMAP-Anmeldung als x abgelehnt"}
