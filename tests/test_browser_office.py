"""The office UI in Debian's chromium (Playwright): an agent logs in, watches inquiries arrive, opens the
preview, changes a setting and a template, cancels one inquiry; a prospect confirms in the browser, and
the dashboard shows the inquiry completed. Real app (uvicorn), real worker, real SMTP sink.

A screenshot of the dashboard is left in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import Inquiry, Message
from db.session import SessionFactory
from settings import Settings
from starter.cli.inquiry import demo_inquiry
from starter.dev.config import free_port
from starter.dev.demo import AGENT_PASSWORD, KNOWN_PROSPECT_EMAIL, load_demo_data
from starter.services.showcase import AGENT_EMAIL
from tests.conftest import needs_chromium
from tests.inquiry_harness import running_harness
from tests.live_server import live_server, live_settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/confirm/\S+")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    needs_chromium,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # a browser adds nothing per backend
]


class Office:
    def __init__(self, base: str, sessions: SessionFactory) -> None:
        self.base = base
        self.sessions = sessions

    async def submit(self, first_name: str, last_name: str, email: str, source: str = "immobilienscout24") -> int:
        payload: dict[str, Any] = {**demo_inquiry(), "first_name": first_name, "last_name": last_name}
        message = f"Guten Tag,\nist die Wohnung noch frei? Ich würde sie gern besichtigen.\n{first_name} {last_name}"
        payload.update(email=email, source=source, salutation="Frau", message=message)
        async with httpx.AsyncClient(base_url=self.base) as http:
            response = await http.post("/api/inquiries", json=payload)
        assert response.status_code == 201, response.text
        inquiry_id: int = response.json()["id"]
        return inquiry_id

    async def status_becomes(self, inquiry_id: int, status: str, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while True:
                async with self.sessions() as session:
                    if await session.scalar(select(Inquiry.status).where(Inquiry.id == inquiry_id)) == status:
                        return
                await asyncio.sleep(0.1)

    async def confirm_link(self, inquiry_id: int) -> str:
        async with self.sessions() as session:
            body = await session.scalar(
                select(Message.body_text).where(
                    Message.inquiry_id == inquiry_id, Message.template_key == "inquiry.confirmation"
                )
            )
        match = CONFIRM_LINK.search(body or "")
        assert match, body
        return match.group(0)


@pytest.fixture
async def office(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[Office]:
    await load_demo_data(sessions)
    port = free_port()
    settings = live_settings(settings, port, task_queue)
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue),
        live_server(settings, port, workflow_env.client) as base,
    ):
        yield Office(base, sessions)


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def log_in(page: Page, office: Office) -> None:
    await page.goto(f"{office.base}/dashboard")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fdashboard$"))
    await page.get_by_label("E-Mail-Adresse").fill(AGENT_EMAIL)
    await page.get_by_label("Passwort").fill(AGENT_PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(f"{office.base}/dashboard")
    await expect(page.get_by_text("Angemeldet als Anna Agent")).to_be_visible()


async def test_an_agent_follows_inquiries_to_completed(browser: Browser, office: Office) -> None:
    agent = await (await browser.new_context(locale="de-DE", viewport={"width": 1360, "height": 900})).new_page()
    await log_in(agent, office)
    await expect(agent.get_by_text("Keine Anfragen gefunden.")).to_be_visible()

    # Inquiries arrive from the portals; the agent refreshes and sees them.
    nina = await office.submit("Nina", "Neumann", "nina.neumann@example.com")
    jonas = await office.submit("Jonas", "Weber", "jonas.weber@example.com", source="immowelt")
    known = await office.submit("Bernd", "Bekannt", KNOWN_PROSPECT_EMAIL, source="kleinanzeigen")
    lena = await office.submit("Lena", "Schulz", "lena.schulz@example.com")
    for inquiry_id in (nina, jonas, lena):
        await office.status_becomes(inquiry_id, "waiting_for_confirmation")
    await office.status_becomes(known, "completed")
    await agent.get_by_role("link", name="Aktualisieren").click()
    nina_row = agent.locator(f'tr[data-inquiry-id="{nina}"]')
    await expect(nina_row).to_contain_text("Wartet auf Bestätigung")
    await expect(nina_row).to_contain_text(re.compile(r"Erinnerung 1 am \d\d\.\d\d\. \d\d:\d\d"))
    await expect(agent.locator(f'tr[data-inquiry-id="{known}"]')).to_contain_text("Abgeschlossen")

    # The preview ("magnifier"): property with cover image, the mail as sent, the Temporal link.
    await nina_row.get_by_role("link", name=re.compile("Vorschau öffnen")).click()
    await expect(agent.get_by_role("heading", name=re.compile("Nina Neumann"))).to_be_visible()
    await expect(agent.locator("img.cover")).to_be_visible()
    await expect(agent.locator("#temporal-link")).to_have_attribute(
        "href", re.compile(r"/namespaces/default/workflows/")
    )
    await agent.get_by_role("link", name=re.compile("bitte kurz bestätigen")).click()
    await expect(agent.locator("#mail-text")).to_contain_text("/confirm/")
    await agent.get_by_role("link", name="← Zur Anfrage").click()

    # Cancel the automation of another inquiry, with a reason.
    await agent.goto(f"{office.base}/dashboard/inquiries/{lena}")
    await agent.get_by_label("Grund").fill("Hat telefonisch abgesagt")
    await screenshot(agent, "actions.png")
    await agent.get_by_role("button", name="Automatisierung beenden").click()
    await expect(agent.get_by_role("status")).to_have_text("Die Automatisierung wurde beendet.")
    await expect(agent.locator("#inquiry-status")).to_have_text("Manuell beendet")

    # A setting: three reminders, three days apart.
    await agent.get_by_role("link", name="Anfragemanager").click()
    await agent.get_by_label("Abstand zwischen den Erinnerungen").fill("3 Tage")
    await agent.get_by_label("Anzahl Erinnerungen").fill("3")
    await agent.get_by_label("E-Mail an den Objektbetreuer").check()
    await agent.get_by_role("button", name="Speichern").click()
    await expect(agent.get_by_role("status")).to_have_text("Die Einstellungen wurden gespeichert.")
    await expect(agent.get_by_label("Anzahl Erinnerungen")).to_have_value("3")
    await screenshot(agent, "settings.png")

    # A template, with the live preview: a mistake shows its error, the fix renders on demo data.
    await agent.get_by_role("link", name="Mailvorlagen").click()
    await agent.get_by_role("link", name="Anfrage: Exposé-Versand").click()
    subject = agent.get_by_label("Betreff")
    await subject.fill("Exposé {{ property.ref ")
    await expect(agent.locator("#preview-error")).to_be_visible()
    await subject.fill("Ihr Exposé {{ property.ref }} von {{ manager.name }}")
    await expect(agent.locator("#preview-subject")).to_have_text("Ihr Exposé W-1001 von Anna Agent")
    await expect(agent.locator("#preview-error")).to_be_hidden()
    await screenshot(agent, "template.png")
    await agent.get_by_role("button", name="Speichern").click()
    await expect(agent.get_by_role("status")).to_contain_text("wurde gespeichert")
    await expect(agent.locator('tr[data-template-key="inquiry.expose"]')).to_contain_text(
        "Ihr Exposé {{ property.ref }}"
    )

    # The prospect, in a browser of her own, confirms through the link in her mail.
    prospect = await (await browser.new_context(locale="de-DE")).new_page()
    await prospect.goto(await office.confirm_link(nina))
    await prospect.get_by_label("Straße und Hausnummer").fill("Oranienstraße 25")
    await prospect.get_by_label("PLZ *").fill("10999")
    await prospect.get_by_label("Ort *").fill("Berlin")
    await prospect.get_by_role("button", name="Angaben bestätigen").click()
    await expect(prospect.locator("body")).to_contain_text("Exposé")
    await office.status_becomes(nina, "completed")

    # Back on the dashboard: completed, and the exposé went out with the edited subject.
    await agent.goto(f"{office.base}/dashboard")
    await expect(agent.locator(f'tr[data-inquiry-id="{nina}"]')).to_contain_text("Abgeschlossen")
    await expect(agent.locator(f'tr[data-inquiry-id="{jonas}"]')).to_contain_text("Wartet auf Bestätigung")
    await screenshot(agent, "dashboard.png")
    await agent.goto(f"{office.base}/dashboard/inquiries/{nina}")
    await expect(agent.locator("#mails")).to_contain_text("Ihr Exposé W-1001 von Anna Agent")
    await expect(agent.locator("#timeline")).to_contain_text("Adresse angelegt")
    await screenshot(agent, "inquiry.png")

    # Logging out ends the session.
    await agent.get_by_role("button", name="Abmelden").click()
    await expect(agent).to_have_url(f"{office.base}/login")
    await agent.goto(f"{office.base}/dashboard")
    await expect(agent).to_have_url(re.compile(r"/login\?next="))
