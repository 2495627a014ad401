"""The confirmation page in Debian's chromium with the legal parts on: the office's identity, the consent
checkbox, the commission note, the Widerrufsbelehrung and the early-start request; the office then sees
the consent records on the contact's privacy page. Real app (uvicorn), real worker, real SMTP sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.app_settings import save_section
from db.legal_settings import SECTION, LegalSettings, OfficeIdentity
from db.models import ConsentRecord, Contact, Inquiry
from db.session import SessionFactory
from settings import Settings
from starter.cli.inquiry import demo_inquiry
from starter.dev.config import free_port
from starter.dev.demo import load_demo_data
from tests.conftest import needs_chromium
from tests.inquiry_harness import running_harness
from tests.live_server import live_server, live_settings
from tests.test_browser_office import CONFIRM_LINK, Office, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    needs_chromium,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def office(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[Office]:
    await load_demo_data(sessions)
    async with sessions.begin() as session:
        identity = OfficeIdentity(
            name="Makler Müller GmbH", address="Hauptstr. 5, 10115 Berlin", email="info@makler.example"
        )
        await save_section(session, SECTION, LegalSettings(identity=identity, widerruf_enabled=True))
    port = free_port()
    settings = live_settings(settings, port, task_queue)
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue),
        live_server(settings, port, workflow_env.client) as base,
    ):
        yield Office(base, sessions)


async def test_prospect_confirms_with_consent_and_early_start(browser: Browser, office: Office) -> None:
    payload = {**demo_inquiry(), "first_name": "Lea", "last_name": "Lorenz", "email": "lea@example.com"}
    async with httpx.AsyncClient(base_url=office.base) as http:
        response = await http.post("/api/inquiries", json=payload)
    assert response.status_code == 201, response.text
    inquiry_id: int = response.json()["id"]
    await office.status_becomes(inquiry_id, "waiting_for_confirmation")
    link = await office.confirm_link(inquiry_id)
    assert CONFIRM_LINK.match(link)

    page = await (await browser.new_context(locale="de-DE", viewport={"width": 420, "height": 900})).new_page()
    await page.goto(link)
    await expect(page.locator(".office-name")).to_have_text("Makler Müller GmbH")
    await expect(page.get_by_role("link", name="Impressum")).to_be_visible()
    await expect(page.get_by_role("link", name="Datenschutz")).to_be_visible()
    await expect(page.locator(".commission-note")).to_contain_text("Provision")
    await expect(page.locator(".widerruf-text")).to_contain_text("Makler Müller GmbH, Hauptstr. 5, 10115 Berlin")
    legal = LegalSettings()
    await page.get_by_label(legal.consent_text).check()
    await page.get_by_label(legal.early_start_text).check()
    await page.get_by_role("textbox", name="PLZ").fill("10117")
    await page.get_by_role("textbox", name="Ort *").fill("Berlin")
    await screenshot(page, "legal-confirm-page.png")
    await page.get_by_role("button", name="Angaben bestätigen").click()
    await expect(page.get_by_role("heading", name="Vielen Dank!")).to_be_visible()
    await expect(page.locator(".consent-pending")).to_be_visible()
    await office.status_becomes(inquiry_id, "completed")

    async with office.sessions() as session:
        records = list(await session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        contact_id = await session.scalar(select(Inquiry.contact_id).where(Inquiry.id == inquiry_id))
        contact = await session.get(Contact, contact_id)
    assert [(r.purpose, r.status) for r in records] == [
        ("advertising", "pending"),
        ("widerruf_notice", "given"),
        ("widerruf_early_start", "given"),
    ]
    assert all(r.user_agent and "Chrome" in r.user_agent and r.ip == "127.0.0.1" for r in records)
    assert records[0].text == legal.consent_text
    assert contact is not None and contact.email == "lea@example.com"

    # The office: log in and look at the contact's consents.
    from tests.test_browser_office import log_in

    agent = await (await browser.new_context(locale="de-DE", viewport={"width": 1360, "height": 900})).new_page()
    await log_in(agent, office)
    await agent.goto(f"{office.base}/contacts/{contact.id}/privacy")
    await expect(agent.locator("#consents tbody tr")).to_have_count(3)
    await expect(agent.locator("#consents")).to_contain_text("unbestätigt (zählt nicht)")
    await screenshot(agent, "legal-privacy-page.png")
    await asyncio.sleep(0)
