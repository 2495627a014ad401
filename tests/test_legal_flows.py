"""The prospect's journey with the legal parts on: consent with double opt-in from the confirmation page,
Widerruf material with the exposé and its wait, an objection stopping the follow-ups, and the office's
Art. 15 export and Art. 17 erasure that leaves no trace of the person in the database or in Temporal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from db.app_settings import save_section
from db.base import Base
from db.legal_settings import SECTION, LegalSettings, OfficeIdentity
from db.models import ConsentRecord, Contact, Inquiry, Message, PrivacyAudit
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.events.dispatcher import Dispatcher, EventHandler
from starter.events.privacy import consent_requested_handler, stop_after_objection
from starter.services.privacy import CONSENT_REQUESTED, CONTACT_OBJECTED
from starter.temporal.histories import HISTORIES_DIR, portable_json
from starter.temporal.inquiries import inquiry_handle
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import CancelInput, InquiryState

pytestmark = pytest.mark.timeout(180)
CONFIRM_PATH = re.compile(r"http://testserver(/confirm/\S+)")
CONSENT_PATH = re.compile(r"http://testserver(/consent/\S+)")
UNSUBSCRIBE_PATH = re.compile(r"http://testserver(/unsubscribe/\S+)")
FORM = {"first_name": "Nina", "last_name": "Neumeier", "zip_code": "10117", "city": "Berlin", "phone": "+49 30 5550199"}


@dataclass
class Journey:
    http: AsyncClient
    env: WorkflowEnvironment
    sink: SmtpSink
    sessions: SessionFactory
    dispatcher: Dispatcher
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    async def post_inquiry(self, email: str) -> dict[str, Any]:
        response = await self.http.post(
            "/api/inquiries",
            json={
                "source": "immoscout24",
                "external_id": f"legal-{self.run}",
                "mailbox": "anfragen@office.example",
                "property_ref": "W-1001",
                "salutation": "Frau",
                "first_name": "Nina",
                "last_name": "Neumeier",
                "email": email,
                "phone": FORM["phone"],
                "message": "Ist die Wohnung noch frei?",
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def mail(self, count: int) -> None:
        async with asyncio.timeout(20):
            while len(self.sink.received) < count:  # noqa: ASYNC110  (mail arrives from another thread)
                await asyncio.sleep(0.05)

    async def confirm_path(self) -> str:
        await self.mail(1)
        match = CONFIRM_PATH.search(self.sink.received[0].text)
        assert match, self.sink.received[0].text
        return match.group(1)


async def record(journey: Journey, workflow_id: str, name: str) -> None:
    """IMMOFLOW_RECORD_HISTORIES=1 keeps this run's history as tests/histories/NAME.json (replayed in CI)."""
    if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
        history = await journey.env.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES_DIR / f"{name}.json").write_text(portable_json(history))


@pytest.fixture
async def journey(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    smtp_sink: SmtpSink,
    task_queue: str,
) -> AsyncIterator[Journey]:
    await factories.office(sessions)
    async with sessions.begin() as session:
        office = OfficeIdentity(
            name="Makler Müller GmbH", address="Hauptstr. 5, 10115 Berlin", email="info@makler.example"
        )
        await save_section(session, SECTION, LegalSettings(identity=office))
    settings = settings.model_copy(update={"task_queue": task_queue})
    handlers: dict[str, list[EventHandler]] = {
        CONSENT_REQUESTED: [consent_requested_handler(task_queue)],
        CONTACT_OBJECTED: [stop_after_objection],
    }
    dispatcher = Dispatcher(sessions, workflow_env.client, handlers)
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue),
        app_client(settings, workflow_env.client) as http,
    ):
        yield Journey(http, workflow_env, smtp_sink, sessions, dispatcher)


async def enable_widerruf(journey: Journey, **overrides: Any) -> None:
    current = (await journey.http.get("/api/settings/legal")).json()
    response = await journey.http.put("/api/settings/legal", json={**current, "widerruf_enabled": True, **overrides})
    assert response.status_code == 200, response.text


async def test_consent_on_the_confirmation_page_is_recorded_with_proof_and_double_opt_in(journey: Journey) -> None:
    created = await journey.post_inquiry("nina@example.com")
    path = await journey.confirm_path()
    page = await journey.http.get(path)
    assert "Makler Müller GmbH" in page.text and "/impressum" in page.text and "/datenschutz" in page.text
    legal = LegalSettings()
    assert legal.consent_text in page.text
    done = await journey.http.post(path, data={**FORM, "newsletter": "1"}, headers={"user-agent": "Firefox/140"})
    assert done.status_code == 200 and "Link in der E-Mail" in done.text
    handle = inquiry_handle(journey.env.client, created["workflow_id"])
    assert (await handle.result()).state == InquiryState.COMPLETED

    async with journey.sessions() as session:
        [consent] = list(await session.scalars(select(ConsentRecord)))
    assert (consent.purpose, consent.status, consent.text, consent.text_version) == (
        "advertising",
        "pending",
        legal.consent_text,
        legal.consent_version,
    )
    assert consent.user_agent == "Firefox/140" and consent.page == "/confirm" and consent.inquiry_id == created["id"]

    await journey.dispatcher.run_once()  # consent.requested: the double opt-in mail's workflow
    await journey.mail(3)  # confirmation, exposé, opt-in
    opt_in = journey.sink.received[2]
    assert opt_in.rcpt_tos == ("nina@example.com",) and "bestätigen" in opt_in.subject
    link = CONSENT_PATH.search(opt_in.text)
    assert link, opt_in.text
    # GET shows a button only: link scanners that prefetch must not confirm for the person.
    assert (await journey.http.get(link.group(1))).status_code == 200
    async with journey.sessions() as session:
        assert (await session.get(ConsentRecord, consent.id)).status == "pending"  # type: ignore[union-attr]
    confirmed = await journey.http.post(link.group(1))
    assert confirmed.status_code == 200 and "bestätigt" in confirmed.text
    await record(journey, f"consent-{consent.id}", "consent-double-opt-in")
    async with journey.sessions() as session:
        row = await session.get(ConsentRecord, consent.id)
        assert row is not None and row.status == "confirmed" and row.confirmed_at is not None
        contact = await session.scalar(select(Contact).where(Contact.email == "nina@example.com"))
        assert contact is not None and row.contact_id == contact.id
    # The office sees it on the contact's privacy page and can print the proof.
    privacy = await journey.http.get(f"/contacts/{contact.id}/privacy")
    assert privacy.status_code == 200 and "bestätigt" in privacy.text
    proof = await journey.http.get(f"/contacts/{contact.id}/privacy/consents/{consent.id}")
    assert proof.status_code == 200 and legal.consent_text in proof.text and "Firefox/140" in proof.text


async def test_without_early_start_the_expose_waits_out_the_withdrawal_period_with_the_material(
    journey: Journey,
) -> None:
    await enable_widerruf(journey)
    created = await journey.post_inquiry("wait@example.com")
    path = await journey.confirm_path()
    page = await journey.http.get(path)
    assert "Widerrufsbelehrung" in page.text and 'name="early_start"' in page.text and "Provision" in page.text
    assert (await journey.http.post(path, data=FORM)).status_code == 200
    handle = inquiry_handle(journey.env.client, created["workflow_id"])
    async with asyncio.timeout(20):
        while (await handle.query(InquiryWorkflow.current)).next_step != "Exposé nach Widerrufsfrist":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    snapshot = await handle.query(InquiryWorkflow.current)
    assert snapshot.state == InquiryState.PROCESSING and snapshot.next_step_at is not None
    detail = (await journey.http.get(f"/api/inquiries/{created['id']}")).json()
    assert detail["next_step"] == "Exposé nach Widerrufsfrist"  # what the dashboard shows
    assert len(journey.sink.received) == 1  # no exposé yet
    await journey.env.sleep(timedelta(days=16))
    assert (await handle.result()).state == InquiryState.COMPLETED
    await record(journey, created["workflow_id"], "inquiry-lean-widerruf-wait")
    await journey.mail(2)
    expose = journey.sink.received[1].message
    names = [part.get_filename() for part in expose.iter_attachments()]
    assert "Widerrufsbelehrung.pdf" in names
    pdf = next(p for p in expose.iter_attachments() if p.get_filename() == "Widerrufsbelehrung.pdf")
    assert pdf.get_content_type() == "application/pdf" and bytes(pdf.get_content()).startswith(b"%PDF")
    async with journey.sessions() as session:
        purposes = set(await session.scalars(select(ConsentRecord.purpose)))
    assert purposes == {"widerruf_notice"}


async def test_with_early_start_the_expose_goes_out_at_once_and_the_request_is_recorded(journey: Journey) -> None:
    await enable_widerruf(journey)
    created = await journey.post_inquiry("early@example.com")
    path = await journey.confirm_path()
    assert (await journey.http.post(path, data={**FORM, "early_start": "1"})).status_code == 200
    assert (await inquiry_handle(journey.env.client, created["workflow_id"]).result()).state == InquiryState.COMPLETED
    await record(journey, created["workflow_id"], "inquiry-lean-widerruf-early-start")
    await journey.mail(2)
    assert "Widerrufsbelehrung" in journey.sink.received[1].text
    html_part = journey.sink.received[1].message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    assert "immoflow-office-footer" in html and "Makler Müller GmbH" in html and "Widerrufsrecht" in html
    async with journey.sessions() as session:
        records = list(await session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
    assert [r.purpose for r in records] == ["widerruf_notice", "widerruf_early_start"]
    assert records[1].text == LegalSettings().early_start_text and records[1].legal_hold


async def test_one_click_objection_stops_the_running_follow_ups_with_the_reason(journey: Journey) -> None:
    created = await journey.post_inquiry("quiet@example.com")
    await journey.confirm_path()
    link = UNSUBSCRIBE_PATH.search(journey.sink.received[0].text)
    assert link, journey.sink.received[0].text
    response = await journey.http.post(
        link.group(1),
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    await journey.dispatcher.run_once()  # contact.objected
    handle = inquiry_handle(journey.env.client, created["workflow_id"])
    result = await handle.result()
    assert (
        result.state == InquiryState.CANCELLED and result.reason == "Widerspruch des Interessenten gegen alle E-Mails"
    )


async def database_text(engine: AsyncEngine) -> str:
    """Every value of every table, as one text: what a search of the whole database would see."""
    chunks: list[str] = []
    async with engine.connect() as connection:
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        for table in Base.metadata.sorted_tables:
            if table.name in tables:
                for row in await connection.execute(text(f"SELECT * FROM {table.name}")):
                    chunks.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(chunks)


async def test_erasure_leaves_no_trace_in_the_database_the_raw_payloads_or_temporal(
    journey: Journey, engine: AsyncEngine, settings: Settings
) -> None:
    needles = ["Neumeier", "Nina Neumeier", "erase@example.com", FORM["phone"]]
    created = await journey.post_inquiry("erase@example.com")
    path = await journey.confirm_path()
    assert (await journey.http.post(path, data={**FORM, "newsletter": "1", "street": "Gartenweg 7"})).status_code == 200
    handle = inquiry_handle(journey.env.client, created["workflow_id"])
    assert (await handle.result()).state == InquiryState.COMPLETED
    await journey.dispatcher.run_once()
    await journey.mail(3)
    async with journey.sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.email == "erase@example.com"))
        assert contact is not None
    before = await database_text(engine)
    assert all(needle in before for needle in needles)  # the search can find them

    exported = await journey.http.get(f"/api/contacts/{contact.id}/export")
    assert exported.status_code == 200
    data = exported.json()
    assert data["contact"]["email"] == "erase@example.com" and data["inquiries"][0]["id"] == created["id"]
    assert any("Exposé" in (m["subject"] or "") and m["body_text"] for m in data["messages"])
    assert [c["purpose"] for c in data["consent_records"]] == ["advertising"]
    readable = await journey.http.get(f"/contacts/{contact.id}/privacy/export.html")
    assert readable.status_code == 200 and "erase@example.com" in readable.text

    erased = await journey.http.post(f"/api/contacts/{contact.id}/erase")
    assert erased.status_code == 200, erased.text

    after = await database_text(engine)
    found = [needle for needle in [*needles, "Gartenweg"] if needle.lower() in after.lower()]
    assert found == []
    async with journey.sessions() as session:
        audit = list(await session.scalars(select(PrivacyAudit.action).order_by(PrivacyAudit.id)))
        assert audit[-2:] == ["export", "erase"] and "export" in audit
        row = await session.get(Contact, contact.id)
        assert row is not None and row.erased_at is not None
        assert all(m.body_text == "[gelöscht]" for m in await session.scalars(select(Message)))
        inquiry = await session.get(Inquiry, created["id"])
        assert inquiry is not None and inquiry.prospect == {}

    # Temporal: every workflow of the contact, its history (inputs, results, updates) and search attributes.
    ids = {created["workflow_id"], *(f"consent-{c['id']}" for c in data["consent_records"])}
    for workflow_id in ids:
        history = await journey.env.client.get_workflow_handle(workflow_id).fetch_history()
        dumped = history.to_json()
        description = await journey.env.client.get_workflow_handle(workflow_id).describe()
        attributes = str(description.raw_description.workflow_execution_info.search_attributes)
        # Payload data is base64 in the JSON: decode every payload to look into it.
        payloads = "\n".join(_decoded_payloads(json.loads(dumped)))
        assert payloads  # the search looked into something
        for needle in needles:
            assert needle.lower() not in dumped.lower(), (workflow_id, needle)
            assert needle.lower() not in payloads.lower(), (workflow_id, needle)
            assert needle.lower() not in attributes.lower(), (workflow_id, needle)
        assert description.status == WorkflowExecutionStatus.COMPLETED


def _decoded_payloads(node: Any) -> list[str]:
    import base64

    found: list[str] = []
    if isinstance(node, dict):
        if "data" in node and isinstance(node["data"], str):
            with contextlib.suppress(ValueError):
                found.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
        for value in node.values():
            found += _decoded_payloads(value)
    elif isinstance(node, list):
        for value in node:
            found += _decoded_payloads(value)
    return found


async def test_erasure_ends_the_contacts_running_workflows(journey: Journey) -> None:
    created = await journey.post_inquiry("running@example.com")
    await journey.confirm_path()  # waits for confirmation now
    contact = await factories.contact(
        journey.sessions, first_name="Rita", last_name="Running", email="running@example.com"
    )
    erased = await journey.http.post(f"/api/contacts/{contact.id}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["workflows_ended"] == [created["workflow_id"]]
    description = await journey.env.client.get_workflow_handle(created["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED
    missing = await journey.http.post("/api/contacts/999999/erase")
    assert missing.status_code == 404


async def test_an_objection_to_advertising_only_keeps_the_inquiry_running(journey: Journey) -> None:
    created = await journey.post_inquiry("ads@example.com")
    await journey.confirm_path()
    link = UNSUBSCRIBE_PATH.search(journey.sink.received[0].text)
    assert link
    page = await journey.http.post(link.group(1), data={"scope": "advertising"})
    assert page.status_code == 200 and "keine Werbung mehr" in page.text
    await journey.dispatcher.run_once()
    handle = inquiry_handle(journey.env.client, created["workflow_id"])
    assert (await handle.query(InquiryWorkflow.current)).state == InquiryState.WAITING_FOR_CONFIRMATION
    await handle.execute_update(InquiryWorkflow.cancel, CancelInput(reason="Test beendet"))
