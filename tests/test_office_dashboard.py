"""The dashboard pages over HTTP: the inquiry list with counts, filters and paging, the preview, a mail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from db.models import Inquiry, InquiryStep, Message
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.http import app_client
from web.pages import dashboard as dashboard_pages

pytestmark = pytest.mark.one_backend

BASE = datetime(2025, 11, 23, 9, 0, tzinfo=UTC)  # not today: the list says "Heute" for today
ROW = re.compile(r'data-inquiry-id="(\d+)"')


async def add_inquiry(sessions: SessionFactory, *, minutes: int = 0, **values: Any) -> Inquiry:
    """An inquiry received MINUTES after BASE, its columns set to VALUES (status, source, …)."""
    source = values.pop("source", "immoscout24")
    ref = values.pop("property_ref", "W-1001")
    email = values.pop("email", f"p{minutes}@example.com")
    row = await factories.inquiry(sessions, source=source, property_ref=ref, email=email)
    async with sessions.begin() as session:
        stored = await session.get(Inquiry, row.id)
        assert stored is not None
        stored.received_at = BASE + timedelta(minutes=minutes)
        for name, value in values.items():
            setattr(stored, name, value)
    return stored


def listed(html: str) -> list[int]:
    return [int(match) for match in ROW.findall(html)]


def tab_count(html: str, status: str) -> int:
    match = re.search(rf'data-status="{status}">\s*<span class="tab-count">(\d+)</span>', html)
    assert match, f"no tab for {status}"
    return int(match.group(1))


@pytest.fixture
async def http(settings: Settings, sessions: SessionFactory) -> Any:
    await factories.office(sessions)
    async with app_client(settings) as client:
        yield client


async def test_list_is_newest_first_without_ignored_with_counts(http: AsyncClient, sessions: SessionFactory) -> None:
    old = await add_inquiry(sessions, minutes=0, status="completed")
    await add_inquiry(sessions, minutes=5, status="ignored", property_ref="W-1002")
    new = await add_inquiry(sessions, minutes=10, status="waiting_for_confirmation")
    aborted = await add_inquiry(sessions, minutes=7, status="aborted", reason="Dublette: gleicher Name und PLZ")

    page = await http.get("/dashboard")

    assert page.status_code == 200
    assert listed(page.text) == [new.id, aborted.id, old.id]
    assert tab_count(page.text, "waiting_for_confirmation") == 1
    assert tab_count(page.text, "completed") == 1
    assert tab_count(page.text, "aborted") == 1
    assert 'data-status="ignored"' not in page.text
    assert "Wartet auf Bestätigung" in page.text and "Abgeschlossen" in page.text
    assert "Dublette: gleicher Name und PLZ" in page.text
    assert "Helle 3-Zimmer-Wohnung am Park" in page.text  # the property's title next to its number
    assert "23.11.2025 10:10" in page.text  # received time in the office's time zone
    assert f'href="/dashboard/inquiries/{new.id}"' in page.text


async def test_next_step_with_its_time_in_the_office_time_zone(http: AsyncClient, sessions: SessionFactory) -> None:
    await add_inquiry(
        sessions,
        status="waiting_for_confirmation",
        next_step="Erinnerung 2",
        next_step_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    )
    # A finished inquiry keeps its last planned step in the row; the dashboard does not show it any more.
    await add_inquiry(sessions, minutes=1, status="completed", next_step="Erinnerung 1", next_step_at=BASE)
    page = await http.get("/dashboard")
    assert "Erinnerung 2 am 25.11. 09:00" in page.text
    assert "Erinnerung 1 am" not in page.text


async def test_filters_by_status_and_portal_and_searches_the_property_ref(
    http: AsyncClient, sessions: SessionFactory
) -> None:
    scout = await add_inquiry(sessions, minutes=1, status="completed", source="immoscout24")
    welt = await add_inquiry(sessions, minutes=2, status="completed", source="immowelt")
    waiting = await add_inquiry(sessions, minutes=3, status="waiting_for_confirmation", source="immowelt")
    other = await add_inquiry(sessions, minutes=4, status="completed", property_ref="W-1003")

    by_status = await http.get("/dashboard", params={"status": "completed"})
    by_portal = await http.get("/dashboard", params={"portal": "immowelt"})
    both = await http.get("/dashboard", params={"portal": "immowelt", "status": "completed"})
    by_ref = await http.get("/dashboard", params={"ref": " w-1003 "})
    nonsense = await http.get("/dashboard", params={"status": "nonsense", "page": "x"})

    assert listed(by_status.text) == [other.id, welt.id, scout.id]
    assert listed(by_portal.text) == [waiting.id, welt.id]
    assert tab_count(by_portal.text, "completed") == 1  # counts follow the portal filter
    assert listed(both.text) == [welt.id]
    assert listed(by_ref.text) == [other.id]
    assert 'value="W-1003"' in by_ref.text  # the stored spelling is shown back
    assert listed(nonsense.text) == [other.id, waiting.id, welt.id, scout.id]
    assert '<option value="immowelt" selected>' in by_portal.text
    # Tabs keep the other filters.
    assert 'href="/dashboard?status=completed&amp;portal=immowelt"' in by_portal.text


async def test_pages(http: AsyncClient, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard_pages, "PAGE_SIZE", 2)
    ids = [(await add_inquiry(sessions, minutes=n, status="completed")).id for n in range(5)]

    first = await http.get("/dashboard")
    last = await http.get("/dashboard", params={"page": "3"})

    assert listed(first.text) == ids[::-1][:2]
    assert "Seite 1 von 3 · 5 Anfragen" in first.text and 'href="/dashboard?page=2" rel="next"' in first.text
    assert listed(last.text) == [ids[0]]
    assert 'rel="next"' not in last.text and 'href="/dashboard?page=2" rel="prev"' in last.text


async def test_an_empty_dashboard_says_so(http: AsyncClient) -> None:
    page = await http.get("/dashboard")
    assert "Keine Anfragen gefunden." in page.text


async def test_preview_shows_reason_addresses_property_mails_timeline_and_temporal_link(
    http: AsyncClient, sessions: SessionFactory, settings: Settings
) -> None:
    twin = await factories.contact(sessions, first_name="Nina", last_name="Neu", zip_code="10117", city="Berlin")
    inquiry = await add_inquiry(
        sessions, status="aborted", reason="Dublette: gleicher Name und PLZ", duplicate_contact_id=twin.id
    )
    async with sessions.begin() as session:
        session.add_all(
            [
                InquiryStep(
                    inquiry_id=inquiry.id, key="checked", at=BASE, status="processing", title="Anfrage geprüft"
                ),
                InquiryStep(
                    inquiry_id=inquiry.id,
                    key="duplicate",
                    at=BASE + timedelta(hours=1),
                    status="aborted",
                    title="Dublette gefunden",
                    detail="gleicher Name und PLZ",
                ),
                Message(
                    idempotency_key=f"inquiry:{inquiry.id}:confirmation",
                    template_key="inquiry.confirmation",
                    sender="Anna Agent <anna@office.example>",
                    recipient="neu@example.com",
                    subject="Ihre Anfrage <bitte bestätigen>",
                    body_text="Hallo <b>Nina</b>",
                    status="sent",
                    sent_at=BASE,
                    inquiry_id=inquiry.id,
                ),
            ]
        )

    page = await http.get(f"/dashboard/inquiries/{inquiry.id}")

    assert page.status_code == 200
    html = page.text
    assert "Abgebrochen" in html and "Dublette: gleicher Name und PLZ" in html
    assert "Dublette: vorhandene Adresse" in html and f"#{twin.id}" in html
    assert "Keine Dublette – fortsetzen" in html and "Automatisierung beenden" in html
    assert "Bestätigungsmail erneut senden" not in html  # only while waiting for the confirmation
    assert '<img class="cover" src="/static/demo/w-1001.jpg"' in html
    assert "Wohnfläche" in html and "1.250 €" in html  # key facts as in the exposé
    assert "Ihre Anfrage &lt;bitte bestätigen&gt;" in html
    assert "Anfrage geprüft" in html and "Dublette gefunden" in html
    assert html.index("Anfrage geprüft") < html.index("Dublette gefunden")
    assert f'href="{settings.temporal_ui_url}/namespaces/default/workflows/{inquiry.workflow_id}"' in html


async def test_a_mail_opens_as_sent_with_text_and_html_kept_harmless(
    http: AsyncClient, sessions: SessionFactory
) -> None:
    inquiry = await add_inquiry(sessions, status="completed")
    other = await add_inquiry(sessions, minutes=1, status="completed")
    async with sessions.begin() as session:
        message = Message(
            idempotency_key=f"inquiry:{inquiry.id}:expose",
            template_key="inquiry.expose",
            sender="Anna Agent <anna@office.example>",
            recipient="Nina Neu <neu@example.com>",
            subject="Ihr Exposé",
            body_text="Guten Tag <script>alert(1)</script>\nExposé: http://testserver/static/x.html.",
            body_html='<html><body><p>Exposé</p><script>alert("x")</script></body></html>',
            attachments=[{"path": "expose/W-1001.pdf", "filename": "Expose-W-1001.pdf"}],
            status="sent",
            sent_at=BASE,
            inquiry_id=inquiry.id,
        )
        session.add(message)

    page = await http.get(f"/dashboard/inquiries/{inquiry.id}/messages/{message.id}")
    foreign = await http.get(f"/dashboard/inquiries/{other.id}/messages/{message.id}")
    missing = await http.get("/dashboard/inquiries/999999")

    assert page.status_code == 200
    assert "Guten Tag &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert '<a href="http://testserver/static/x.html" target="_blank" rel="noopener noreferrer">' in page.text
    assert "<script>alert" not in page.text
    frame_url = f"/dashboard/inquiries/{inquiry.id}/messages/{message.id}/html"
    assert 'sandbox=""' in page.text and f'src="{frame_url}"' in page.text
    frame = await http.get(frame_url)
    # The mail's HTML in a frame of its own: it may style itself, but never run anything.
    assert frame.text.startswith("<html><body><p>Exposé")
    policy = frame.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "script" not in policy
    assert "Expose-W-1001.pdf" in page.text and "Nina Neu &lt;neu@example.com&gt;" in page.text
    assert foreign.status_code == 404 and "gehört nicht zu dieser Anfrage" in foreign.text
    assert missing.status_code == 404 and "Diese Anfrage gibt es nicht." in missing.text


async def test_root_goes_to_the_dashboard(http: AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"


@pytest.mark.parametrize(
    ("received", "label"),
    [
        (datetime(2026, 11, 25, 7, 30, tzinfo=UTC), "Heute, 08:30"),
        (datetime(2026, 11, 24, 23, 30, tzinfo=UTC), "Heute, 00:30"),  # already the 25th in Berlin
        (datetime(2026, 11, 24, 16, 40, tzinfo=UTC), "Gestern, 17:40"),
        (datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "20.11.2026 09:00"),
    ],
)
def test_received_time_reads_like_an_agent_speaks(received: datetime, label: str) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert dashboard_pages.received_label(received, now, "Europe/Berlin") == label
