"""Issue 17.5 in a real browser: with the strict CSP, the office pages load and their scripts work, nothing
is blocked, and a mail's own HTML keeps its inline styles in its sandboxed frame (Debian's chromium)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.base import utcnow
from db.models import Inquiry, Message, Property
from db.session import SessionFactory
from settings import Settings
from starter.dev.config import free_port
from starter.dev.demo import AGENT_PASSWORD, load_demo_data
from starter.services.showcase import AGENT_EMAIL
from tests.conftest import needs_chromium
from tests.live_server import live_server, live_settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PAGES = [
    "/dashboard",
    "/settings/inquiry-manager",
    "/settings/templates",
    "/settings/time-slots",
    "/leads",
    "/slot-requests",
    "/automations",
    "/automations/new",
    "/account/sessions",
]
# Runs before any page script, outside the page's CSP: every violation the browser reports is kept.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    needs_chromium,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def base(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[str]:
    await load_demo_data(sessions)
    port = free_port()
    async with live_server(live_settings(settings, port, task_queue), port, workflow_env.client) as url:
        yield url


async def _violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__violations")
    return found


async def test_the_office_works_under_the_csp(browser: Browser, base: str, sessions: SessionFactory) -> None:
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_label("E-Mail-Adresse").fill(AGENT_EMAIL)
    await page.get_by_label("Passwort").fill(AGENT_PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(f"{base}/dashboard")
    blocked: dict[str, list[str]] = {}
    for path in PAGES:
        response = await page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        if found := await _violations(page):
            blocked[path] = found
    assert blocked == {}
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "account-sessions.png"), full_page=True)  # the last of PAGES

    # The template editor's live preview is a script from /static talking fetch() with the CSRF header.
    await page.goto(f"{base}/settings/templates/inquiry.confirmation")
    await page.locator("#template-subject").fill("Betreff unter CSP {{ 6 * 7 }}")
    await expect(page.locator("#preview-subject")).to_have_text("Betreff unter CSP 42")
    assert await _violations(page) == []

    # A mail's HTML with inline styles: styled in its own sandboxed frame, no violation on the page.
    async with sessions.begin() as session:
        prop = await session.scalar(select(Property.id).where(Property.external_ref == "W-1001"))
        inquiry = Inquiry(
            source="immowelt",
            external_id="csp-1",
            workflow_id="inquiry-immowelt-csp-1",
            email="nina@example.com",
            property_ref="W-1001",
            property_id=prop,
            received_at=utcnow(),
        )
        session.add(inquiry)
        await session.flush()
        message = Message(
            idempotency_key="csp:1",
            channel="email",
            sender="anna@immoflow.local",
            recipient="nina@example.com",
            subject="Ihr Exposé",
            body_text="Guten Tag",
            body_html='<html><body><p id="styled" style="color: rgb(200, 0, 0)">Rot</p></body></html>',
            status="sent",
            sent_at=utcnow(),
            inquiry_id=inquiry.id,
        )
        session.add(message)
    await page.goto(f"{base}/dashboard/inquiries/{inquiry.id}/messages/{message.id}")
    styled = page.frame_locator("iframe.mail-html").locator("#styled")
    await expect(styled).to_have_css("color", "rgb(200, 0, 0)")
    assert await _violations(page) == []
    await page.screenshot(path=str(ARTIFACTS / "csp-mail-frame.png"), full_page=True)
    await context.close()
