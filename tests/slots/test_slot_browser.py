"""A prospect proposes three viewing slots in Debian's chromium (Playwright), on the real app served by uvicorn,
with the real worker: the page shows the property, the thank-you page the slots, and the answer is routed
by seed 001's rules (email + task + SMS to an SMS-capable agent: one email, one task, one SMS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

from db.models import Appointment, User
from db.session import SessionFactory
from domain.passwords import hash_password
from domain.slot_routing import ResponseType
from settings import Settings
from starter.dev.config import free_port
from starter.dev.smtp_sink import SmtpSink
from tests.conftest import needs_chromium
from tests.live_server import live_server, live_settings
from tests.slot_harness import LINK, OFFICE_TIME, SlotHarness, proposals, running_slot_harness
from workflows.slot_models import ProposedSlot, SlotState

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    needs_chromium,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # a browser adds nothing per backend
]


@dataclass
class Served:
    harness: SlotHarness
    base: str


@pytest.fixture
async def app(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[Served]:
    """The app served by uvicorn on a free port, with a worker running the time-slot workflow."""
    port = free_port()
    served = live_settings(settings, port, task_queue)
    async with (
        running_slot_harness(workflow_env, sessions, served, task_queue) as harness,
        live_server(served, port, workflow_env.client) as base,
    ):
        yield Served(harness, base)


async def propose(page: Page, slots: list[ProposedSlot], comment: str = "") -> None:
    """What the prospect does on /slots/<token>: one row per slot (in the office's time zone), then submit."""
    rows = page.locator("fieldset.slot-row")
    await expect(rows).to_have_count(5)
    for index, slot in enumerate(slots):
        start, end = slot.starts_at.astimezone(OFFICE_TIME), slot.ends_at.astimezone(OFFICE_TIME)
        row = rows.nth(index)
        await row.locator('input[name="slot_date"]').fill(start.strftime("%Y-%m-%d"))
        await row.locator('input[name="slot_start"]').fill(start.strftime("%H:%M"))
        await row.locator('input[name="slot_end"]').fill(end.strftime("%H:%M"))
    if comment:
        await page.locator('textarea[name="comment"]').fill(comment)
    await page.get_by_role("button", name="Termine vorschlagen").click()


async def test_prospect_proposes_three_viewing_slots(
    browser: Browser,
    app: Served,
    workflow_env: WorkflowEnvironment,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    harness, base = app.harness, app.base
    now = await workflow_env.get_current_time()
    request = await harness.create(now, response_types=["email", "task", "sms"])
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    link = LINK.search(smtp_sink.received[0].text)
    assert link is not None
    url = f"{base}/slots/{link.group(1)}"

    page = await browser.new_page()
    await page.goto(url)
    await expect(page.locator("h1")).to_contain_text("Besichtigung: Helle 3-Zimmer-Wohnung am Park")
    await expect(page.locator("img.cover")).to_be_visible()
    await expect(page.locator("table.slot-facts")).to_contain_text("Wohnfläche")
    await expect(page.locator("table.slot-facts")).to_contain_text("1.250 €")
    await page.screenshot(path=str(tmp_path / "slots-viewing.png"), full_page=True)

    await propose(page, proposals(now, 3), comment="<img src=x onerror=alert(1)> Gern nachmittags")

    await expect(page.locator("h1")).to_have_text("Vielen Dank!")
    await expect(page.locator("ul.slot-list li")).to_have_count(3)
    await expect(page.locator(".slot-comment")).to_have_text("<img src=x onerror=alert(1)> Gern nachmittags")
    assert await page.locator(".slot-comment img").count() == 0  # shown as text, not as markup

    snapshot = await harness.wait_until_routed(handle)
    assert [d.channel for d in snapshot.deliveries] == [ResponseType.EMAIL, ResponseType.TASK, ResponseType.SMS]
    messages = await harness.messages(request.id)
    assert [m.channel for m in messages] == ["email", "email", "sms"]  # invitation, ONE answer mail, the SMS

    await page.goto(url)  # the same link again
    await expect(page.locator("h1")).to_have_text("Bereits beantwortet")


async def test_agent_sends_a_request_and_picks_a_proposed_slot(
    browser: Browser,
    app: Served,
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    harness, base = app.harness, app.base
    async with sessions.begin() as session:
        await session.execute(
            update(User).where(User.id == harness.office.agent_id).values(password_hash=hash_password("pw"))
        )
    agent = await (await browser.new_context(locale="de-DE")).new_page()
    await agent.goto(f"{base}/slot-requests")
    await agent.get_by_label("E-Mail-Adresse").fill("anna@office.example")
    await agent.get_by_label("Passwort").fill("pw")
    await agent.get_by_role("button", name="Anmelden").click()
    await expect(agent).to_have_url(f"{base}/slot-requests")

    form = agent.locator("#new-slot-request")
    await form.locator('select[name="contact_id"]').select_option(label="Nina Neu (nina@example.com)")
    await form.locator('select[name="property_id"]').select_option(index=1)
    await form.locator('select[name="recipient"]').select_option("user")
    await form.locator('select[name="recipient_user_id"]').select_option(label="Anna Agent")
    await form.get_by_role("checkbox", name="Aufgabe").check()
    await form.get_by_role("button", name="Terminanfrage senden").click()
    await expect(agent.locator("h1")).to_contain_text("Terminanfrage von ")
    await expect(agent.locator(".flash")).to_contain_text("angelegt; der Link geht per E-Mail an den Kontakt")
    request_id = int(agent.url.rsplit("/", 1)[-1])
    handle = workflow_env.client.get_workflow_handle(f"slots-{request_id}")
    await harness.wait_for(handle, SlotState.WAITING)  # the page shows what was so when it was loaded
    await agent.reload()
    await expect(agent.locator("#slot-status")).to_have_text("wartet auf Vorschläge")

    link = LINK.search(smtp_sink.received[0].text)
    assert link is not None and smtp_sink.received[0].rcpt_tos == ("nina@example.com",)
    prospect = await browser.new_page()
    await prospect.goto(f"{base}/slots/{link.group(1)}")
    now = await workflow_env.get_current_time()
    slots = proposals(now, 3)
    await propose(prospect, slots)
    await expect(prospect.locator("h1")).to_have_text("Vielen Dank!")

    await harness.wait_until_routed(handle)
    await agent.reload()
    await expect(agent.locator("#slot-status")).to_have_text("Vorschläge erhalten")
    await expect(agent.get_by_role("button", name="Diesen Termin wählen")).to_have_count(3)
    await agent.screenshot(path=str(tmp_path / "slots-office-answered.png"), full_page=True)
    await agent.locator("#proposal-2").get_by_role("button", name="Diesen Termin wählen").click()
    await expect(agent.locator(".flash")).to_contain_text("Termin 2 gewählt")
    await expect(agent.locator("#slot-status")).to_have_text("Termin vereinbart")
    await expect(agent.locator("#proposal-2")).to_contain_text("gewählt")

    async with sessions() as session:
        appointment = await session.scalar(select(Appointment).order_by(Appointment.id.desc()))
    assert appointment is not None and appointment.starts_at == slots[1].starts_at
    assert "Terminbestätigung" in smtp_sink.received[-1].subject
