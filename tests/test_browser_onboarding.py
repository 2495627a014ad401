"""A new office sets itself up in Debian's chromium: `immoflow admin create` makes the first admin, who logs
in, invites an agent (the set-password mail goes out over SMTP through the dispatcher and AccountMailWorkflow),
sets up the inquiry manager; an inquiry then completes, and a duplicate's check task waits in the agent's
inbox with the count in the menu. Real app (uvicorn), real worker, real SMTP sink, a database without demo.

Parts another branch provides are seeded here and marked INTEGRATOR: the OpenImmo property import and the
contacts (branch properties), the mailbox set-up (branch mailbox). Replace each seed by its browser step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import Contact, Inquiry, Mailbox, Message, Property, PropertyVisibility, User
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.events.accounts import PASSWORD_LINK_EVENT, password_link_handler
from starter.events.dispatcher import Dispatcher
from tests.conftest import needs_chromium
from tests.inquiry_harness import running_harness
from tests.live_server import free_port, live_server, live_settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ROOT = Path(__file__).resolve().parents[1]
ADMIN_EMAIL, ADMIN_PASSWORD = "chefin@buero.example", "chefin-passwort-1"
AGENT_EMAIL, AGENT_PASSWORD = "max@buero.example", "makler-passwort-1"
SET_PASSWORD_LINK = re.compile(r"http://127\.0\.0\.1:\d+/set-password/\S+")
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/confirm/\S+")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    needs_chromium,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # a browser adds nothing per backend
]


@dataclass
class NewOffice:
    base: str
    sessions: SessionFactory
    sink: SmtpSink

    async def mail_to(self, address: str, pattern: re.Pattern[str], within: float = 30) -> str:
        async with asyncio.timeout(within):
            while True:
                for mail in self.sink.received:
                    match = pattern.search(mail.text)
                    if address in mail.rcpt_tos and match:
                        return match.group(0)
                await asyncio.sleep(0.1)

    async def status_becomes(self, inquiry_id: int, status: str, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while True:
                async with self.sessions() as session:
                    if await session.scalar(select(Inquiry.status).where(Inquiry.id == inquiry_id)) == status:
                        return
                await asyncio.sleep(0.1)

    async def confirm_link(self, inquiry_id: int) -> str:
        async with asyncio.timeout(30):
            while True:
                async with self.sessions() as session:
                    body = await session.scalar(
                        select(Message.body_text).where(
                            Message.inquiry_id == inquiry_id, Message.template_key == "inquiry.confirmation"
                        )
                    )
                match = CONFIRM_LINK.search(body or "")
                if match:
                    return match.group(0)
                await asyncio.sleep(0.1)

    async def submit(self, first_name: str, last_name: str, email: str, external_id: str) -> int:
        payload: dict[str, Any] = {
            "source": "immobilienscout24",
            "external_id": external_id,
            "mailbox": "anfragen@buero.example",
            "property_ref": "B-3001",
            "salutation": "Frau",
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "message": "Ist die Wohnung noch frei?",
        }
        async with httpx.AsyncClient(base_url=self.base) as http:
            response = await http.post("/api/inquiries", json=payload)
        assert response.status_code == 201, response.text
        inquiry_id: int = response.json()["id"]
        return inquiry_id


def admin_create(settings: Settings) -> None:
    """The first admin, as the README tells a new office: `immoflow admin create` at the terminal."""
    env = {**os.environ, "IMMOFLOW_DATABASE_URL": str(settings.database_url), "IMMOFLOW_ENV": "test"}
    command = [sys.executable, "-m", "starter.cli", "admin", "create", "--email", ADMIN_EMAIL]
    command += ["--name", "Clara Chefin", "--password-stdin"]
    done = subprocess.run(
        command, input=f"{ADMIN_PASSWORD}\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


async def seed_other_branches(sessions: SessionFactory) -> None:
    """INTEGRATOR: the property comes from the OpenImmo ZIP import page, the manager and visibility from the
    property form, the known contact from the CSV import, the mailbox from the mailbox page."""
    async with sessions.begin() as session:
        admin = await session.scalar(select(User).where(User.email == ADMIN_EMAIL))
        agent = await session.scalar(select(User).where(User.email == AGENT_EMAIL))
        assert admin is not None and agent is not None
        prop = Property(
            external_ref="B-3001",
            title="Altbauwohnung mit Balkon",
            marketing_status="active",
            manager_user_id=agent.id,
            zip_code="10115",
            city="Berlin",
        )
        session.add_all([prop, Mailbox(address="anfragen@buero.example", main_user_id=agent.id)])
        session.add(Contact(first_name="Klara", last_name="Kauf", email="klara@alt.example", zip_code="10115"))
        await session.flush()
        session.add(PropertyVisibility(property_id=prop.id, user_id=agent.id))


@pytest.fixture
async def office(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    smtp_sink: SmtpSink,
) -> AsyncIterator[NewOffice]:
    port = free_port()
    settings = live_settings(settings, port, task_queue)
    dispatcher = Dispatcher(
        sessions, workflow_env.client, {PASSWORD_LINK_EVENT: [password_link_handler(lambda: task_queue)]},
        poll_seconds=0.1,
    )  # fmt: skip
    stop = asyncio.Event()
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue),
        live_server(settings, port, workflow_env.client) as base,
    ):
        running = asyncio.create_task(dispatcher.run_forever(stop))
        try:
            yield NewOffice(base, sessions, smtp_sink)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await running


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def log_in(page: Page, base: str, email: str, password: str, name: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_text(f"Angemeldet als {name}")).to_be_visible()


async def test_a_new_office_onboards_its_agent_and_the_duplicate_task_waits_in_his_inbox(
    browser: Browser, office: NewOffice, settings: Settings
) -> None:
    admin_create(settings)
    viewport: ViewportSize = {"width": 1360, "height": 900}
    admin = await (await browser.new_context(locale="de-DE", viewport=viewport)).new_page()
    await log_in(admin, office.base, ADMIN_EMAIL, ADMIN_PASSWORD, "Clara Chefin")

    # The admin invites the agent.
    await admin.get_by_role("link", name="Benutzer", exact=True).click()
    await admin.get_by_role("link", name="Benutzer anlegen oder einladen").click()
    await admin.get_by_label("Name").fill("Max Makler")
    await admin.get_by_label("E-Mail-Adresse").fill(AGENT_EMAIL)
    await admin.get_by_label("Mobilnummer").fill("+49 170 2222222")
    await admin.get_by_label("darf SMS bekommen").check()
    await admin.get_by_label("SMS-Abrechnungskonto").fill("SMS-0001")
    await admin.get_by_label("Rolle").select_option("agent")
    await admin.get_by_role("button", name="Anlegen").click()
    await expect(admin.get_by_role("status")).to_contain_text(
        f"der Link zum Festlegen des Passworts geht an {AGENT_EMAIL}"
    )
    await screenshot(admin, "onboarding-user.png")

    # The agent sets his password through the link in his mail, then logs in.
    agent = await (await browser.new_context(locale="de-DE", viewport=viewport)).new_page()
    await agent.goto(await office.mail_to(AGENT_EMAIL, SET_PASSWORD_LINK))
    await agent.get_by_label("Neues Passwort").fill(AGENT_PASSWORD)
    await agent.get_by_label("Passwort wiederholen").fill(AGENT_PASSWORD)
    await agent.get_by_role("button", name="Passwort speichern").click()
    await expect(agent.get_by_role("status")).to_contain_text("Ihr Passwort ist gespeichert")
    await log_in(agent, office.base, AGENT_EMAIL, AGENT_PASSWORD, "Max Makler")
    await expect(agent.get_by_role("link", name="Anfragemanager")).to_have_count(0)  # agents do not configure

    await seed_other_branches(office.sessions)

    # The admin sets up the inquiry manager (saving stores the mail templates as well).
    await admin.get_by_role("link", name="Anfragemanager").click()
    await admin.get_by_label("Dublettenprüfung").select_option("name_zip")
    await admin.get_by_label("Anzahl Erinnerungen").fill("2")
    await admin.get_by_role("button", name="Speichern").click()
    await expect(admin.get_by_role("status")).to_have_text("Die Einstellungen wurden gespeichert.")

    # One inquiry runs to completion: the prospect confirms, the contact is created, the exposé goes out.
    nina = await office.submit("Nina", "Neumann", "nina@example.com", "onboarding-1")
    prospect = await (await browser.new_context(locale="de-DE")).new_page()
    await prospect.goto(await office.confirm_link(nina))
    await prospect.get_by_label("PLZ *").fill("10999")
    await prospect.get_by_label("Ort *").fill("Berlin")
    await prospect.get_by_role("button", name="Angaben bestätigen").click()
    await office.status_becomes(nina, "completed")

    # A second one is a duplicate by name and zip code: it stops with a task for the property's manager.
    klara = await office.submit("Klara", "Kauf", "klara@neu.example", "onboarding-2")
    await prospect.goto(await office.confirm_link(klara))
    await prospect.get_by_label("PLZ *").fill("10115")
    await prospect.get_by_label("Ort *").fill("Berlin")
    await prospect.get_by_role("button", name="Angaben bestätigen").click()
    await office.status_becomes(klara, "aborted")

    # The agent sees it: the count in the menu, the task in his inbox, linked to the inquiry.
    await agent.goto(f"{office.base}/dashboard")
    await expect(agent.locator(f'tr[data-inquiry-id="{nina}"]')).to_contain_text("Abgeschlossen")
    tasks_link = agent.get_by_role("link", name=re.compile(r"^Aufgaben"))
    await expect(tasks_link.locator(".nav-badge")).to_have_text("1")
    await tasks_link.click()
    row = agent.locator("table.tasks tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Dublette")
    await screenshot(agent, "onboarding-tasks.png")
    await row.get_by_role("link", name=f"Anfrage #{klara}").click()
    await expect(agent).to_have_url(f"{office.base}/dashboard/inquiries/{klara}")
    await agent.goto(f"{office.base}/tasks")
    await agent.get_by_role("button", name="erledigt").click()
    await expect(agent.get_by_text("Keine offenen Aufgaben.")).to_be_visible()
    await expect(agent.locator(".nav-badge")).to_have_count(0)
