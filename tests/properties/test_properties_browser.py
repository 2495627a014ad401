"""In Debian's chromium: an office imports an OpenImmo ZIP and sees its properties, then imports contacts.

Real app (uvicorn) on a free port; the uploads go through the page's own forms (fetch with the CSRF header).
Screenshots of the import report, the list and a property are left in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from settings import Settings
from starter.dev.config import free_port
from starter.dev.demo import AGENT_PASSWORD, load_demo_data
from starter.services.showcase import AGENT_EMAIL
from tests.conftest import needs_chromium
from tests.live_server import live_server, live_settings
from tests.properties.support import export_zip, fixture

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CSV = Path(__file__).resolve().parents[1] / "data" / "contacts_csv" / "excel-windows1252-semikolon.csv"

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


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def test_an_office_imports_an_openimmo_zip_and_sees_its_properties(
    browser: Browser, base: str, tmp_path: Path
) -> None:
    archive = tmp_path / "export-makler-crm.zip"
    archive.write_bytes(export_zip(folder="openimmo/"))
    page = await (await browser.new_context(locale="de-DE", viewport={"width": 1360, "height": 900})).new_page()
    await page.goto(f"{base}/properties")
    await page.get_by_label("E-Mail-Adresse").fill(AGENT_EMAIL)
    await page.get_by_label("Passwort").fill(AGENT_PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(f"{base}/properties")
    await expect(page.locator("tr[data-property-ref]")).to_have_count(3)  # the demo office's W-1001…3

    await page.get_by_role("link", name="OpenImmo-Import").click()
    await page.get_by_label(re.compile("Exportdatei")).set_input_files(str(archive))
    await page.get_by_role("button", name="Importieren").click()
    await expect(page.get_by_role("heading", name=re.compile("export-makler-crm.zip"))).to_be_visible()
    counts = page.locator("#import-counts")
    await expect(counts).to_contain_text("2angelegt")
    await expect(page.locator("#report-created")).to_contain_text("NB-12")
    await expect(page.locator("#report-warnings")).to_contain_text("Anhang „bilder/fehlt.jpg“ fehlt in der ZIP-Datei.")
    await screenshot(page, "property-import.png")

    await page.get_by_role("link", name="Objekte", exact=True).first.click()
    await expect(page.locator("tr[data-property-ref]")).to_have_count(5)
    await page.get_by_label("Suche").fill("Nordbahnhof")
    await page.get_by_role("button", name="Filtern").click()
    row = page.locator('tr[data-property-ref="NB-12"]')
    await expect(row).to_contain_text("In Vermarktung")
    await expect(page.locator("tr[data-property-ref]")).to_have_count(1)
    await screenshot(page, "property-list.png")

    await row.get_by_role("link", name="NB-12").click()
    cover = page.locator("img.cover")
    await expect(cover).to_be_visible()
    assert await cover.evaluate("image => image.complete && image.naturalWidth > 0")
    await expect(page.locator("#key-facts")).to_contain_text("Kaltmiete")
    await expect(page.locator("#key-facts")).to_contain_text("1.250 €")
    await expect(page.get_by_role("link", name="Exposé (PDF)")).to_be_visible()
    await expect(page.locator("#property-visibility")).to_have_text("alle Benutzer")
    await screenshot(page, "property.png")

    # The same file again changes nothing.
    await page.goto(f"{base}/properties/import")
    await page.get_by_label(re.compile("Exportdatei")).set_input_files(str(archive))
    await page.get_by_role("button", name="Importieren").click()
    await expect(page.locator("#import-counts")).to_contain_text("2unverändert")

    # A new cover through the edit page: larger than the 1 MiB a plain form post may carry past the CSRF check.
    big_cover = tmp_path / "neues-titelbild.png"
    big_cover.write_bytes(fixture("nb-12-kueche.png") + b"\0" * (3 * 1024 * 1024 // 2))
    await page.goto(f"{base}/properties")
    await page.get_by_role("link", name="NB-12").click()
    await page.get_by_role("link", name="Bearbeiten").click()
    await page.get_by_label(re.compile("Bild \\(JPEG")).set_input_files(str(big_cover))
    await page.get_by_role("button", name="Titelbild hochladen").click()
    await expect(page.get_by_role("status")).to_have_text("Titelbild gespeichert.")
    await expect(page.locator("#cover-preview")).to_have_attribute(
        "src", re.compile(r"^/media/properties/\d+/[0-9a-f]{16}\.png$")
    )
    await screenshot(page, "property-edit.png")

    # Contacts from Excel's CSV (Windows-1252, semicolons): preview, then confirm.
    await page.goto(f"{base}/contacts/import")
    await page.get_by_label(re.compile("CSV-Datei")).set_input_files(str(CSV))
    await page.get_by_role("button", name="Vorschau anzeigen").click()
    await expect(page.locator("#preview-rows")).to_contain_text("Gülten Weiß")
    await expect(page.locator("main")).to_contain_text("Windows-1252")
    await page.get_by_role("button", name="Import bestätigen").click()
    await expect(page.get_by_role("status")).to_have_text("2 Kontakte angelegt.")
    await page.goto(f"{base}/contacts?q=weiß")
    await page.get_by_role("link", name="Gülten Weiß").click()
    await expect(page.locator("h1")).to_contain_text("Gülten Weiß")
    await screenshot(page, "contact.png")
