"""An agent assigns an unrecognised mail in Debian's chromium, and the inquiry's workflow takes it from there."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import InboundMail, Inquiry, Mailbox
from db.session import SessionFactory
from messaging.mailbox_secrets import encrypt_password
from settings import Settings
from starter.dev.config import free_port
from starter.dev.demo import MAILBOX, load_demo_data
from starter.intake.mail_service import MailIntakeService
from starter.intake.service import IntakeService
from tests.conftest import needs_chromium
from tests.inquiry_harness import running_harness
from tests.live_server import live_server, live_settings
from tests.test_browser_office import Office, log_in, screenshot

DATA = Path(__file__).parent.parent / "data" / "mail"
SECRET = "Browser-geheim-0815"

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
    port = free_port()
    settings = live_settings(settings, port, task_queue)
    async with sessions.begin() as session:
        mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == MAILBOX))
        assert mailbox is not None
        mailbox.imap_host, mailbox.imap_user = "imap.immoflow.local", MAILBOX
        mailbox.imap_password_encrypted = encrypt_password(settings, SECRET)
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue),
        live_server(settings, port, workflow_env.client) as base,
    ):
        yield Office(base, sessions)


async def test_an_agent_assigns_an_unrecognised_mail(browser: Browser, office: Office) -> None:
    async with office.sessions() as session:
        mailbox_id = await session.scalar(select(Mailbox.id).where(Mailbox.address == MAILBOX))
    assert mailbox_id is not None
    service = MailIntakeService(office.sessions, IntakeService(office.sessions))
    stored = await service.store(mailbox_id, 1, 1, (DATA / "unrecognised_newsletter.eml").read_bytes())
    assert await service.process(stored.inbound_id) == "unrecognised"

    agent = await (await browser.new_context(locale="de-DE", viewport={"width": 1360, "height": 900})).new_page()
    await log_in(agent, office)
    await agent.get_by_role("link", name="Nicht erkannte E-Mails").first.click()
    await expect(agent.get_by_role("heading", name="Nicht erkannte E-Mails")).to_be_visible()
    await agent.get_by_role("link", name="Marktbericht Dezember").click()
    await expect(agent.locator("pre.raw-mail")).to_contain_text("Karl Klein (karl.klein@example.com)")
    await agent.get_by_label("Objektnummer").fill("W-1001")
    await agent.get_by_label("Vorname").fill("Karl")
    await agent.get_by_label("Nachname").fill("Klein")
    await agent.get_by_label("E-Mail").fill("karl.klein@example.com")
    await screenshot(agent, "unrecognised-mail.png")
    await agent.get_by_role("button", name="Anfrage anlegen").click()
    await expect(agent).to_have_url(re.compile(r"/dashboard/inquiries/\d+$"))
    await expect(agent.get_by_role("heading", name=re.compile("Karl Klein"))).to_be_visible()

    async with office.sessions() as session:
        inquiry = (await session.scalars(select(Inquiry))).one()
        row = await session.get(InboundMail, stored.inbound_id)
    assert row is not None and (row.status, row.inquiry_id) == ("assigned", inquiry.id)
    await office.status_becomes(inquiry.id, "waiting_for_confirmation")

    await agent.goto(f"{office.base}/settings/mailboxes")
    await expect(agent.locator(f"#mailbox-{mailbox_id}")).to_contain_text(MAILBOX)
    await screenshot(agent, "mailboxes.png")
    assert SECRET not in await agent.content()
    await agent.goto(f"{office.base}/settings/mailboxes/{mailbox_id}")
    await expect(agent.get_by_label("Passwort")).to_have_value("")
    assert SECRET not in await agent.content()
