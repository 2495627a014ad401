"""A new office sets itself up in Debian's chromium, and nothing reaches its database except through the browser,
the CLI and its mailbox.

`immoflow admin create` (the CLI, in a subprocess) makes the first admin on a migrated, empty database (what
`immoflow dev --no-demo` leaves). She logs in, imports the properties of an OpenImmo ZIP on /properties/import,
invites an agent on /users (the set-password mail goes out over SMTP through the dispatcher and
AccountMailWorkflow; the agent sets his password through the link), makes him manager of the imported flat and
the only user it is visible to on its edit page, sets up the inquiry manager on /settings/inquiry-manager and
the mailbox on /settings/mailboxes against a real IMAP server (pymap). Saving the mailbox starts its watcher
(MailboxWorkflow) through the `mailbox.changed` event, as in production.

The inquiries then arrive as ImmoScout24 portal mails APPENDed into that IMAP mailbox: the watcher reads them,
the intake makes inquiries and starts their workflows. The first prospect confirms and completes; the second
is the same person under another address, a duplicate by name and zip code: its workflow stops (`aborted`,
"Dublette – wartet auf Prüfung" while the review window is open) with a check task for the property's
manager, which waits in the agent's inbox (with the count in the menu) until he marks it done.
Real app (uvicorn), real worker and dispatcher on the time-skipping server, real SMTP sink.
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
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.base import utcnow
from db.events import MailboxChanged
from db.migrate import upgrade_sync
from db.models import DomainEvent, Inquiry, Mailbox
from db.session import SessionFactory, create_engine
from messaging.imap_client import ImapConfig, append
from settings import Settings
from starter.dev.config import free_port
from starter.dev.smtp_sink import SmtpSink
from starter.events.accounts import PASSWORD_LINK_EVENT, password_link_handler
from starter.events.dispatcher import Dispatcher, EventHandler
from starter.events.inquiries import inquiry_received_handler
from starter.intake.service import RECEIVED_EVENT as INQUIRY_RECEIVED
from starter.temporal.mailboxes import ensure_mailbox_workflow
from tests.conftest import needs_chromium
from tests.imap_server import pymap_server
from tests.live_server import live_server, live_settings
from tests.properties.support import export_zip
from worker import INTERCEPTORS, WORKFLOWS, build_activities
from workflows.mailbox import workflow_id_for

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "onboarding"
ROOT = Path(__file__).resolve().parents[1]
ADMIN_EMAIL, ADMIN_PASSWORD = "chefin@buero.example", "chefin-passwort-1"
AGENT_EMAIL, AGENT_PASSWORD = "max@buero.example", "makler-passwort-1"
MAILBOX, IMAP_PASSWORD = "anfragen@buero.example", "imap-Passwort-7!"
PROPERTY_REF = "NB-12"  # the rented flat of the 1.2.7 export (tests/data/openimmo_properties)
SET_PASSWORD_LINK = re.compile(r"http://127\.0\.0\.1:\d+/set-password/\S+")
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/confirm/\S+")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    needs_chromium,
]


@pytest.fixture
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What `immoflow dev --no-demo` starts with: a new SQLite database the migrations made, rows they insert
    included (the switched-off sample automations, ...), and nothing else. Not the shared, truncated one."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('new-office') / 'immoflow.db'}"
    upgrade_sync(url)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)  # as it is: the conftest's engine would empty the migrations' rows
    try:
        yield engine
    finally:
        await engine.dispose()


@dataclass
class NewOffice:
    base: str
    sessions: SessionFactory
    sink: SmtpSink
    imap: ImapConfig

    async def mail_to(self, address: str, pattern: re.Pattern[str], within: float = 60) -> str:
        """The first match of PATTERN in a mail to ADDRESS that the SMTP sink received."""
        async with asyncio.timeout(within):
            while True:
                for mail in self.sink.received:
                    match = pattern.search(mail.text)
                    if address in mail.rcpt_tos and match:
                        return match.group(0)
                await asyncio.sleep(0.1)

    async def attachments_to(self, address: str, subject: str, within: float = 60) -> list[str]:
        """The content types of the attachments of the mail to ADDRESS with SUBJECT, once it arrived."""
        async with asyncio.timeout(within):
            while True:
                for mail in self.sink.received:
                    if address in mail.rcpt_tos and mail.subject == subject:
                        return [part.get_content_type() for part in mail.message.iter_attachments()]
                await asyncio.sleep(0.1)

    async def inquiry_from(self, email: str, within: float = 60) -> int:
        """The inquiry the mailbox watcher made from the portal mail of EMAIL (read, never written)."""
        async with asyncio.timeout(within):
            while True:
                async with self.sessions() as session:
                    found = await session.scalar(select(Inquiry.id).where(Inquiry.email == email))
                if found is not None:
                    return int(found)
                await asyncio.sleep(0.1)

    async def status_becomes(self, inquiry_id: int, status: str, within: float = 60) -> None:
        async with asyncio.timeout(within):
            while True:
                async with self.sessions() as session:
                    if await session.scalar(select(Inquiry.status).where(Inquiry.id == inquiry_id)) == status:
                        return
                await asyncio.sleep(0.1)

    async def portal_mail(self, first_name: str, last_name: str, email: str, inquiry_ref: str) -> None:
        """ImmoScout24 delivers a contact request into the office's mailbox, as the portal does."""
        mail = EmailMessage()
        mail["From"] = "ImmoScout24 <kontaktanfrage@immobilienscout24.de>"
        mail["Reply-To"] = email
        mail["To"] = MAILBOX
        mail["Subject"] = f"Kontaktanfrage für Ihr Objekt {PROPERTY_REF}"
        mail["Date"] = format_datetime(utcnow())
        mail["Message-ID"] = make_msgid(domain="immobilienscout24.de")
        mail.set_content(
            "Guten Tag,\n\nSie haben eine neue Kontaktanfrage zu Ihrem Objekt erhalten.\n\n"
            f"Objekt: Helle 3-Zimmer-Wohnung am Nordbahnhof\nIhre Objektnummer: {PROPERTY_REF}\n"
            f"Anfrage-ID: {inquiry_ref}\n\nKontaktdaten des Interessenten\nAnrede: Frau\n"
            f"Vorname: {first_name}\nNachname: {last_name}\nE-Mail: {email}\n\n"
            "Nachricht:\nIst die Wohnung noch frei? Ich würde sie gern besichtigen.\n\n"
            "--\nDiese E-Mail wurde über ImmoScout24 versendet."
        )
        await append(self.imap, mail.as_bytes())


def admin_create(settings: Settings) -> None:
    """The first admin, as the README tells a new office: `immoflow admin create` at the terminal."""
    env = {**os.environ, "IMMOFLOW_DATABASE_URL": str(settings.database_url), "IMMOFLOW_ENV": "test"}
    command = [sys.executable, "-m", "starter.cli", "admin", "create", "--email", ADMIN_EMAIL]
    command += ["--name", "Clara Chefin", "--password-stdin"]
    done = subprocess.run(
        command, input=f"{ADMIN_PASSWORD}\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def dispatcher_for(sessions: SessionFactory, client: Client, task_queue: str) -> Dispatcher:
    """The production handlers of the events this path writes, on the test's task queue."""

    async def mailbox_changed(client: Client, event: DomainEvent) -> None:
        # as starter.events.mail.handle_mailbox_changed, which reads the queue from the process's settings
        if event.payload.get("enabled"):
            await ensure_mailbox_workflow(client, int(event.payload["mailbox_id"]), task_queue)

    table: dict[str, list[EventHandler]] = {
        PASSWORD_LINK_EVENT: [password_link_handler(lambda: task_queue)],
        MailboxChanged.KIND: [mailbox_changed],
        INQUIRY_RECEIVED: [inquiry_received_handler(task_queue)],
    }
    return Dispatcher(sessions, client, table, poll_seconds=0.1)


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
    client = workflow_env.client
    # The worker as worker.py builds it: the mail intake starts each inquiry's workflow at once.
    activities = build_activities(settings, sessions, client=client, task_queue=task_queue)
    worker = Worker(
        client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=activities, interceptors=INTERCEPTORS
    )
    dispatcher = dispatcher_for(sessions, client, task_queue)
    stop = asyncio.Event()
    with pymap_server(MAILBOX, IMAP_PASSWORD) as imap_port:
        imap = ImapConfig(host="127.0.0.1", port=imap_port, tls="none", user=MAILBOX, password=IMAP_PASSWORD)
        async with worker, live_server(settings, port, client) as base:
            running = asyncio.create_task(dispatcher.run_forever(stop))
            try:
                yield NewOffice(base, sessions, smtp_sink, imap)
            finally:
                stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                await _end_watchers(client, sessions)


async def _end_watchers(client: Client, sessions: SessionFactory) -> None:
    # A watcher runs as long as its mailbox; the test's ends here, before its worker and server go.
    async with sessions() as session:
        ids = list(await session.scalars(select(Mailbox.id)))
    for mailbox_id in ids:
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(workflow_id_for(mailbox_id)).terminate("test over")


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def log_in(page: Page, base: str, email: str, password: str, name: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_text(f"Angemeldet als {name}")).to_be_visible()


async def confirm(page: Page, link: str, zip_code: str) -> None:
    await page.goto(link)
    await page.get_by_label("PLZ *").fill(zip_code)
    await page.get_by_label("Ort *").fill("Berlin")
    await page.get_by_role("button", name="Angaben bestätigen").click()
    await expect(page.get_by_role("heading", level=1)).to_be_visible()


async def test_a_new_office_sets_itself_up_and_the_duplicate_task_waits_in_the_agents_inbox(
    browser: Browser, office: NewOffice, settings: Settings, tmp_path: Path
) -> None:
    admin_create(settings)
    viewport: ViewportSize = {"width": 1360, "height": 900}
    admin = await (await browser.new_context(locale="de-DE", viewport=viewport)).new_page()
    await log_in(admin, office.base, ADMIN_EMAIL, ADMIN_PASSWORD, "Clara Chefin")

    # The admin imports the office's properties from the ZIP its CRM exports for the portals.
    archive = tmp_path / "export-makler-crm.zip"
    archive.write_bytes(export_zip(folder="openimmo/"))
    await admin.get_by_role("link", name="Objekte", exact=True).click()
    await expect(admin.locator("tr[data-property-ref]")).to_have_count(0)  # an empty office
    await admin.get_by_role("link", name="OpenImmo-Import").click()
    await admin.get_by_label(re.compile("Exportdatei")).set_input_files(str(archive))
    await admin.get_by_role("button", name="Importieren").click()
    await expect(admin.locator("#import-counts")).to_contain_text("2angelegt")
    await expect(admin.locator("#report-created")).to_contain_text(PROPERTY_REF)
    await screenshot(admin, "1-import.png")

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
    await screenshot(admin, "2-user.png")

    # The agent sets his password through the link in his mail, then logs in.
    agent = await (await browser.new_context(locale="de-DE", viewport=viewport)).new_page()
    await agent.goto(await office.mail_to(AGENT_EMAIL, SET_PASSWORD_LINK))
    await agent.get_by_label("Neues Passwort").fill(AGENT_PASSWORD)
    await agent.get_by_label("Passwort wiederholen").fill(AGENT_PASSWORD)
    await agent.get_by_role("button", name="Passwort speichern").click()
    await expect(agent.get_by_role("status")).to_contain_text("Ihr Passwort ist gespeichert")
    await log_in(agent, office.base, AGENT_EMAIL, AGENT_PASSWORD, "Max Makler")
    await expect(agent.get_by_role("link", name="Anfragemanager")).to_have_count(0)  # agents do not configure

    # The imported flat gets the agent as its manager, and only he sees it (seed 002's property check).
    await admin.get_by_role("link", name="Objekte", exact=True).click()
    await admin.get_by_role("link", name=PROPERTY_REF, exact=True).click()
    await admin.get_by_role("link", name="Bearbeiten").click()
    await admin.get_by_label("Objektbetreuer (Absender der Mails)").select_option(label="Max Makler")
    await admin.get_by_label("für alle Benutzer sichtbar").uncheck()
    await admin.get_by_label("Max Makler", exact=True).check()
    await admin.get_by_role("button", name="Speichern").click()
    await expect(admin.get_by_role("status")).to_have_text(f"Objekt {PROPERTY_REF} gespeichert.")
    await expect(admin.locator("#property-visibility")).to_have_text("Max Makler")
    await expect(admin.locator("main p.muted").first).to_contain_text("aus OpenImmo importiert · geändert")
    await screenshot(admin, "3-property.png")

    # The admin sets up the inquiry manager (saving stores the mail templates as well).
    await admin.get_by_role("link", name="Anfragemanager").click()
    await admin.get_by_label("Dublettenprüfung").select_option("name_zip")
    await admin.get_by_label("Anzahl Erinnerungen").fill("2")
    await admin.get_by_role("button", name="Speichern").click()
    await expect(admin.get_by_role("status")).to_have_text("Die Einstellungen wurden gespeichert.")

    # ... and the office mailbox on the IMAP server; the agent is its main user.
    await admin.goto(f"{office.base}/settings/mailboxes")
    await admin.get_by_label("E-Mail-Adresse des Postfachs").fill(MAILBOX)
    await admin.get_by_label("Hauptbenutzer").select_option(label="Max Makler")
    await admin.get_by_label("IMAP-Server").fill("127.0.0.1")
    await admin.get_by_label("Port", exact=True).fill(str(office.imap.port))
    await admin.get_by_label("Verschlüsselung").select_option("none")
    await admin.get_by_label("IMAP-Benutzer").fill(MAILBOX)
    await admin.get_by_label("Passwort", exact=True).fill(IMAP_PASSWORD)
    await admin.get_by_label("Postfach überwachen").check()
    await admin.get_by_role("button", name="Speichern").click()
    row = admin.locator("table.mailboxes tbody tr")
    await expect(row).to_contain_text(MAILBOX)
    await expect(row).to_contain_text("Max Makler")
    async with asyncio.timeout(60):  # the watcher's first contact with the server, as the page shows it
        while "UID" not in await row.inner_text():
            await asyncio.sleep(0.5)
            await admin.reload()
    await expect(admin.locator(".mailbox-error")).to_have_count(0)
    await screenshot(admin, "4-mailbox.png")

    # One inquiry runs to completion: the prospect confirms, the contact is created, the exposé goes out.
    await office.portal_mail("Nina", "Neumann", "nina@example.com", "IS24-ONB-1")
    nina = await office.inquiry_from("nina@example.com")
    prospect = await (await browser.new_context(locale="de-DE")).new_page()
    await confirm(prospect, await office.mail_to("nina@example.com", CONFIRM_LINK), "10999")
    await office.status_becomes(nina, "completed")
    expose = await office.attachments_to("nina@example.com", "Ihr Exposé: Helle 3-Zimmer-Wohnung am Nordbahnhof")
    assert "application/pdf" in expose  # the exposé PDF that came with the OpenImmo ZIP

    # The same prospect under another address: a duplicate by name and zip code, a task for the manager.
    await office.portal_mail("Nina", "Neumann", "nina.neumann@web.example", "IS24-ONB-2")
    again = await office.inquiry_from("nina.neumann@web.example")
    await confirm(prospect, await office.mail_to("nina.neumann@web.example", CONFIRM_LINK), "10999")
    await office.status_becomes(again, "aborted")

    # The agent sees it: the count in the menu, the task in his inbox, linked to the inquiry and the contact.
    await agent.goto(f"{office.base}/dashboard")
    await expect(agent.locator(f'tr[data-inquiry-id="{nina}"]')).to_contain_text("Abgeschlossen")
    await expect(agent.locator(f'tr[data-inquiry-id="{again}"]')).to_be_visible()
    await screenshot(agent, "5-dashboard.png")
    tasks_link = agent.get_by_role("link", name=re.compile(r"^Aufgaben"))
    await expect(tasks_link.locator(".nav-badge")).to_have_text("1")
    await tasks_link.click()
    task = agent.locator("table.tasks tbody tr")
    await expect(task).to_have_count(1)
    await expect(task).to_contain_text("Dublette")
    await screenshot(agent, "6-tasks.png")
    await task.get_by_role("link", name=f"Anfrage #{again}").click()
    await expect(agent).to_have_url(f"{office.base}/dashboard/inquiries/{again}")
    await agent.go_back()
    await task.get_by_role("link", name="Nina Neumann").click()
    await expect(agent).to_have_url(re.compile(r"/contacts/\d+$"))
    await expect(agent.locator("h1")).to_contain_text("Nina Neumann")
    await agent.goto(f"{office.base}/tasks")
    await agent.get_by_role("button", name="erledigt").click()
    await expect(agent.get_by_text("Keine offenen Aufgaben.")).to_be_visible()
    await expect(agent.locator(".nav-badge")).to_have_count(0)
    await screenshot(agent, "7-tasks-done.png")
