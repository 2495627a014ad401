"""Every office and prospect page fits a phone, a laptop and a wide screen (Debian's chromium, Playwright).

The real app (uvicorn) and a real worker serve realistic data: long titles and names with umlauts,
inquiries waiting, expired, aborted and failed, a lead, time-slot requests answered and scheduled, an
automation run that failed, the mails and SMS the stack sent. Each page is opened at 390×844, 1280×800,
1440×900 and 1920×1080; the test fails when the page is wider than the viewport, when an element reaches past
its edge, or when a container cuts its content off (scroll width above client width), and it keeps a
screenshot per page and size in test-artifacts/layout/ for a human to look at.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from pydantic import SecretStr
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from automations.rules import ensure_builtin_rules
from db.models import (
    AutomationRule,
    AutomationRun,
    Contact,
    Inquiry,
    Message,
    Property,
    SalesProcess,
    SlotRequest,
    User,
)
from db.session import SessionFactory
from db.slot_store import slot_link
from settings import Settings
from starter.dev.config import free_port
from starter.dev.demo import AGENT_PASSWORD, KNOWN_PROSPECT_EMAIL, SECOND_AGENT_EMAIL, load_demo_data
from starter.dev.smtp_sink import SmtpSink
from starter.services.showcase import AGENT_EMAIL
from tests.conftest import needs_chromium
from tests.inquiry_harness import running_harness
from tests.live_server import live_server, live_settings
from tests.slot_harness import OFFICE_TIME, proposals
from workflows.slot_models import ProposedSlot

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "layout"
VIEWPORTS = {"phone": (390, 844), "laptop": (1280, 800), "desktop": (1440, 900), "wide": (1920, 1080)}
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/confirm/\S+")
TOKEN = "layout-token"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(420),
    needs_chromium,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # a browser adds nothing per backend
]

# Run in the page: everything wider than the viewport, reaching past its edges, or cut off by a container.
# Hidden on purpose and skipped: screen-reader-only text (clipped to 1 px), text shortened with an ellipsis
# that carries its full text in a title, and the inside of form controls (a long value scrolls in its box).
OVERFLOW_SCRIPT = """
() => {
  const viewport = document.documentElement.clientWidth;
  const problems = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const hidden = (el) => {
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.display === 'none' || style.visibility === 'hidden') return true;
      if (style.position === 'absolute' && node.getBoundingClientRect().width <= 1) return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > viewport) {
    problems.push(`page is ${document.documentElement.scrollWidth} px wide in a ${viewport} px viewport`);
  }
  for (const el of document.querySelectorAll('body *')) {
    if (hidden(el)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    if (rect.right > viewport + 1 || rect.left < -1) {
      problems.push(`${name(el)} spans ${Math.round(rect.left)}..${Math.round(rect.right)} of ${viewport}`);
    }
    if (['INPUT', 'TEXTAREA', 'SELECT', 'OPTION', 'IFRAME'].includes(el.tagName)) continue;
    const style = getComputedStyle(el);
    if (style.textOverflow === 'ellipsis' && el.title) continue;
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 &&
        (style.overflowX !== 'visible' || el.tagName === 'TD' || el.tagName === 'TH')) {
      problems.push(`${name(el)} cuts off its content: ${el.scrollWidth} px in ${el.clientWidth} px`);
    }
  }
  return problems;
}
"""


@dataclass
class Office:
    base: str
    sessions: SessionFactory
    settings: Settings
    now: datetime
    pages: list[tuple[str, str]] = field(default_factory=list)  # (name, path) of the office pages
    confirm_links: list[str] = field(default_factory=list)  # one per viewport: each is confirmed once
    slot_links: list[str] = field(default_factory=list)
    slot_ids: list[int] = field(default_factory=list)

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)

    async def scalar(self, statement: Any) -> Any:
        async with self.sessions() as session:
            return await session.scalar(statement)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """Like the shared sink, but it also keeps every mail as a file: /dev/mail shows them."""
    with SmtpSink(directory=tmp_path / "mail") as sink:
        yield sink


PROSPECTS = [
    ("Frau", "Maximiliane", "Großmann-Überländer", "maximiliane.grossmann-ueberlaender@beispiel-mail.example"),
    ("Herr", "Jörg", "Schäfer", "joerg.schaefer@example.com"),
    ("", "Fritz", "Fünfer", "fritz.fuenfer@example.com"),
    ("Frau", "Sophie", "Wagner", "sophie.wagner@example.com"),
    ("Herr", "Kemal", "Öztürk", "kemal.oeztuerk@example.com"),
    ("Frau", "Lea", "Schäfer", "lea.schaefer@example.com"),
    ("Frau", "Anna-Lena", "Müller-Lüdenscheidt", "anna-lena.mueller-luedenscheidt@example.com"),
    ("Herr", "Konstantin", "von Wittgenstein-Hohenstein", "k.wittgenstein@kanzlei-wittgenstein.example"),
    ("Frau", "Özlem", "Yılmaz-Bäcker", "oezlem.yilmaz@example.com"),
    ("Herr", "Bernd", "Bekannt", KNOWN_PROSPECT_EMAIL),
]


async def wait_for(probe: Any, within: float = 30) -> Any:
    async with asyncio.timeout(within):
        while not (value := await probe()):  # noqa: ASYNC110 (polling the database and the mail directory)
            await asyncio.sleep(0.1)
        return value


async def realistic_office(office: Office) -> None:
    """Inquiries in every state, a lead, three slot requests (one scheduled), automation runs, mails, SMS."""
    async with office.sessions.begin() as session:
        # A title as long as portals write them, on the property every page shows.
        prop = await session.scalar(select(Property).where(Property.external_ref == "W-1001"))
        assert prop is not None
        prop.title = "Helle 3-Zimmer-Altbauwohnung mit Südbalkon, Dielenboden und Einbauküche in Kreuzberg"
    inquiry_ids: list[int] = []
    async with office.api() as api:
        for index, (salutation, first, last, email) in enumerate(PROSPECTS):
            payload = {
                "source": ["immoscout24", "immowelt", "kleinanzeigen"][index % 3],
                "external_id": f"layout-{index}",
                "mailbox": "anfragen@immoflow.local",
                "property_ref": "W-1001",
                "salutation": salutation or None,
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": "030 1234567",
                "message": "Guten Tag,\nist die Wohnung noch frei? Wir sind eine Familie mit zwei Kindern und "
                "würden sie gern am Wochenende besichtigen.\nViele Grüße",
                "received_at": (office.now - timedelta(minutes=30 - index)).isoformat(),
            }
            response = await api.post("/api/inquiries", json={k: v for k, v in payload.items() if v is not None})
            assert response.status_code == 201, response.text
            inquiry_ids.append(response.json()["id"])
    waiting, known = inquiry_ids[:-1], inquiry_ids[-1]

    async def status_of(inquiry_id: int) -> str | None:
        result: str | None = await office.scalar(select(Inquiry.status).where(Inquiry.id == inquiry_id))
        return result

    for inquiry_id in waiting:
        await wait_for(lambda i=inquiry_id: _is(status_of(i), "waiting_for_confirmation"))
    await wait_for(lambda: _is(status_of(known), "completed"))
    for inquiry_id in waiting[: len(VIEWPORTS)]:  # one to confirm per screen size
        body = await office.scalar(
            select(Message.body_text).where(
                Message.inquiry_id == inquiry_id, Message.template_key == "inquiry.confirmation"
            )
        )
        match = CONFIRM_LINK.search(body or "")
        assert match, body
        office.confirm_links.append(match.group(0))
    # The rows the dashboard must show in full: expired, aborted and failed, each with its reason.
    async with office.sessions.begin() as session:
        for inquiry_id, status, reason in (
            (waiting[4], "expired", "Keine Reaktion nach 2 Erinnerungen; Aufgabe für Anna Agent angelegt"),
            (waiting[5], "aborted", "Dublette: dieselbe E-Mail-Adresse wie „Maximiliane Großmann-Überländer“"),
            (waiting[6], "failed", "Vorlage „inquiry.followup.2“: unbekannte Variable property.ausstattung"),
        ):
            row = await session.get(Inquiry, inquiry_id)
            assert row is not None
            row.status, row.reason, row.next_step, row.next_step_at = status, reason, None, None

    known_contact = await office.scalar(select(Contact.id).where(Contact.email == KNOWN_PROSPECT_EMAIL))
    max_id = await office.scalar(select(User.id).where(User.email == SECOND_AGENT_EMAIL))
    anna_id = await office.scalar(select(User.id).where(User.email == AGENT_EMAIL))
    process_id = await office.scalar(select(SalesProcess.id))
    async with office.api() as api:
        lead = await api.post(
            "/api/leads",
            json={
                "title": "Familie Schäfer-Öztürk sucht 3 Zimmer mit Balkon in Kreuzberg oder Friedrichshain",
                "contact_id": known_contact,
                "property_id": prop.id,
                "process_id": process_id,
                "taker_user_id": anna_id,
            },
        )
        assert lead.status_code == 201, lead.text
        lead_id = lead.json()["id"]
        slot_ids = []
        for _ in VIEWPORTS:
            created = await api.post(
                "/api/slot-requests",
                json={
                    "contact_id": known_contact,
                    "property_id": prop.id,
                    "recipient": "user",
                    "recipient_user_id": max_id,
                    "response_types": ["email", "sms"],
                },
            )
            assert created.status_code == 201, created.text
            slot_ids.append(created.json()["id"])
    async with office.sessions() as session:
        for slot_id in slot_ids:
            request = await session.get(SlotRequest, slot_id)
            assert request is not None
            office.slot_links.append(slot_link(office.settings, request))

    async with office.sessions.begin() as session:
        await ensure_builtin_rules(session)  # the shipped rules, as every migrated database has them
    rule_id = await office.scalar(select(AutomationRule.id).order_by(AutomationRule.id))
    async with office.sessions.begin() as session:
        facts = {
            "inquiry_id": known,
            "source": "kleinanzeigen",
            "mailbox": "anfragen@immoflow.local",
            "email": KNOWN_PROSPECT_EMAIL,
            "property_ref": "W-1001",
            "property_id": prop.id,
            "contact_id": known_contact,
        }
        session.add_all(
            [
                AutomationRun(
                    rule_id=rule_id,
                    event_id=1,
                    trigger="inquiry.received",
                    workflow_id="automation-1-1",
                    outcome="succeeded",
                    started_at=office.now,
                    finished_at=office.now,
                    facts=facts,
                    actions=[{"kind": "create_contact"}],
                    steps=[
                        {
                            "index": 0,
                            "status": "done",
                            "detail": "Kontakt „Bernd Bekannt“ angelegt (Betreuer: Max Makler)",
                        }
                    ],
                ),
                AutomationRun(
                    rule_id=rule_id,
                    event_id=2,
                    trigger="inquiry.received",
                    workflow_id="automation-1-2",
                    outcome="failed",
                    started_at=office.now,
                    finished_at=office.now,
                    facts=facts,
                    actions=[{"kind": "create_contact"}],
                    steps=[{"index": 0, "status": "failed", "detail": "Anfrage: Angaben unvollständig (zip_code)"}],
                    error="Anfrage: Angaben unvollständig oder ungültig (zip_code, city)",
                    error_detail="ActionError: Anfrage: Angaben unvollständig oder ungültig (zip_code, city)\n"
                    "  beim Anlegen des Kontakts aus der Anfrage von maximiliane.grossmann-ueberlaender@beispiel-"
                    "mail.example für W-1001 (Helle 3-Zimmer-Altbauwohnung mit Südbalkon, Dielenboden und Einbau"
                    "küche in Kreuzberg)",
                ),
                AutomationRun(
                    rule_id=rule_id,
                    event_id=3,
                    trigger="inquiry.received",
                    workflow_id="automation-1-3",
                    outcome="stopped",
                    started_at=office.now,
                    finished_at=office.now,
                    facts=facts,
                    actions=[{"kind": "create_contact"}, {"kind": "send_email"}],
                    steps=[{"index": 0, "status": "done", "detail": "Kontakt „Bernd Bekannt“ angelegt"}],
                    error="Widerspruch des Interessenten gegen alle E-Mails",
                    error_detail="stopped after action 1/2",
                ),
            ]
        )
    run_id = await office.scalar(select(AutomationRun.id).where(AutomationRun.outcome == "failed"))
    stopped_run = await office.scalar(select(AutomationRun.id).where(AutomationRun.outcome == "stopped"))
    expose = await office.scalar(select(Message.id).where(Message.inquiry_id == known))
    office.pages = [
        ("dashboard", "/dashboard"),
        ("inquiry-waiting", f"/dashboard/inquiries/{waiting[7]}"),
        ("inquiry-completed", f"/dashboard/inquiries/{known}"),
        ("inquiry-mail", f"/dashboard/inquiries/{known}/messages/{expose}"),
        ("settings", "/settings/inquiry-manager"),
        ("templates", "/settings/templates"),
        ("template-edit", "/settings/templates/inquiry.expose"),
        ("leads", "/leads"),
        ("lead", f"/leads/{lead_id}"),
        ("slot-requests", "/slot-requests"),
        ("slot-settings", "/settings/time-slots"),
        ("automations", "/automations"),
        ("automation-new", "/automations/new"),
        ("automation-edit", f"/automations/{rule_id}"),
        ("automation-runs", f"/automations/{rule_id}/runs"),
        ("automation-run", f"/automations/runs/{run_id}"),
        ("automation-run-stopped", f"/automations/runs/{stopped_run}"),
    ]
    office.slot_ids = slot_ids


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


@pytest.fixture
async def office(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[Office]:
    await load_demo_data(sessions)
    port = free_port()
    # development: the layout covers /dev/mail and /dev/sms too, which exist in development only
    served = live_settings(settings, port, task_queue).model_copy(
        update={"api_token": SecretStr(TOKEN), "env": "development"}
    )
    async with (
        running_harness(workflow_env.client, sessions, served, task_queue),
        live_server(served, port, workflow_env.client) as base,
    ):
        office = Office(base, sessions, served, await workflow_env.get_current_time())
        await realistic_office(office)
        yield office


async def check(page: Page, name: str, size: str, problems: list[str]) -> None:
    """Screenshot the page as it is and record what does not fit."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_load_state("load")
    for index, frame in enumerate(page.frames[1:]):  # a mail's HTML part in its sandboxed frame
        await frame.wait_for_load_state("load")
        assert await frame.evaluate("document.body.innerText.length") > 0, f"{name}: empty mail frame"
        # Chromium paints a cross-origin frame only once it has been in view; the screenshot shows it then.
        await page.locator("iframe").nth(index).scroll_into_view_if_needed()
    await page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    problems += [f"{name} at {size}: {problem}" for problem in await page.evaluate(OVERFLOW_SCRIPT)]


async def log_in(context: BrowserContext, base: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_label("E-Mail-Adresse").fill(AGENT_EMAIL)
    await page.get_by_label("Passwort").fill(AGENT_PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(f"{base}/dashboard")
    return page


async def propose(page: Page, slots: list[ProposedSlot]) -> None:
    rows = page.locator("fieldset.slot-row")
    for index, slot in enumerate(slots):
        start, end = slot.starts_at.astimezone(OFFICE_TIME), slot.ends_at.astimezone(OFFICE_TIME)
        row = rows.nth(index)
        await row.locator('input[name="slot_date"]').fill(start.strftime("%Y-%m-%d"))
        await row.locator('input[name="slot_start"]').fill(start.strftime("%H:%M"))
        await row.locator('input[name="slot_end"]').fill(end.strftime("%H:%M"))
    await page.locator('textarea[name="comment"]').fill(
        "Am liebsten nachmittags; wir kommen zu zweit und bringen unseren Hund mit (falls erlaubt)."
    )
    await page.get_by_role("button", name="Termine vorschlagen").click()


async def test_every_page_fits_phone_laptop_and_wide_screen(browser: Browser, office: Office) -> None:
    problems: list[str] = []
    sizes = list(VIEWPORTS.items())

    # Prospect pages first: each viewport confirms its own inquiry and answers its own slot request.
    for (size, (width, height)), confirm, slots in zip(sizes, office.confirm_links, office.slot_links, strict=True):
        context = await browser.new_context(locale="de-DE", viewport={"width": width, "height": height})
        page = await context.new_page()
        await page.goto(confirm)
        await expect(page.locator("h1")).to_have_text("Ihre Anfrage bestätigen")
        await check(page, "confirm", size, problems)
        await page.get_by_label("Straße und Hausnummer").fill("Oranienstraße 25, Seitenflügel, 3. OG links")
        await page.get_by_label("PLZ *").fill("10999")
        await page.get_by_label("Ort *").fill("Berlin")
        await page.get_by_role("button", name="Angaben bestätigen").click()
        await expect(page.locator("h1")).to_have_text("Vielen Dank!")
        await check(page, "confirm-done", size, problems)
        await page.goto(confirm + "x")  # a damaged link: the problem page
        await check(page, "confirm-problem", size, problems)

        await page.goto(slots)
        await expect(page.locator("h1")).to_contain_text("Besichtigung")
        await check(page, "slots", size, problems)
        await propose(page, proposals(office.now, 3))
        await expect(page.locator("h1")).to_have_text("Vielen Dank!")
        await check(page, "slots-done", size, problems)
        await context.close()

    # One request gets its appointment: the confirmation with the .ics goes out, the list shows the date.
    async def answered() -> bool:
        rows = await office.scalar(select(SlotRequest.status).where(SlotRequest.id == office.slot_ids[0]))
        return bool(rows == "answered")

    await wait_for(answered)
    async with office.api() as api:
        chosen = await api.post(f"/api/slot-requests/{office.slot_ids[0]}/choose", json={"position": 2})
        assert chosen.status_code in (200, 202), chosen.text
    mails = await wait_for(lambda: _mail_files(office.settings.data_dir / "mail", at_least=12))
    office.pages += [
        ("slot-request", f"/slot-requests/{office.slot_ids[0]}"),
        ("dev-mail", "/dev/mail"),
        ("dev-mail-expose", f"/dev/mail/{mails['Ihr Exposé']}"),
        ("dev-mail-confirmation", f"/dev/mail/{mails['bitte kurz bestätigen']}"),
        ("dev-mail-appointment", f"/dev/mail/{mails['Terminbestätigung']}"),
        ("dev-sms", "/dev/sms"),
    ]

    for size, (width, height) in sizes:
        context = await browser.new_context(locale="de-DE", viewport={"width": width, "height": height})
        page = await context.new_page()
        await page.goto(f"{office.base}/login")
        await check(page, "login", size, problems)
        page = await log_in(context, office.base)
        for name, path in office.pages:
            response = await page.goto(f"{office.base}{path}")
            assert response is not None and response.status == 200, (name, path)
            await check(page, name, size, problems)
        await context.close()

    assert problems == [], "\n".join(problems)


async def _mail_files(directory: Path, at_least: int) -> dict[str, str] | None:
    """The caught mails by a word of their subject (the newest file per subject), once AT_LEAST arrived."""
    import email
    import email.policy

    files = sorted(directory.glob("*.eml"))  # noqa: ASYNC240 (a test's few small files)
    if len(files) < at_least:
        return None
    found: dict[str, str] = {}
    for path in files:
        subject = str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"] or "")
        for word in ("Ihr Exposé", "bitte kurz bestätigen", "Terminbestätigung"):
            if word in subject:
                found[word] = path.name
    return found if len(found) == 3 else None
