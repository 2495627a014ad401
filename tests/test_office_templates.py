"""/settings/templates over HTTP: list, edit with a live preview on demo data, refusal of broken templates."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from db.models import MessageTemplate
from db.session import SessionFactory
from messaging.template_store import ensure_default_templates
from settings import Settings
from tests.http import app_client

pytestmark = pytest.mark.one_backend

EDIT = "/settings/templates/inquiry.confirmation"


@pytest.fixture
async def http(settings: Settings, sessions: SessionFactory) -> AsyncIterator[AsyncClient]:
    async with sessions.begin() as session:
        await ensure_default_templates(session)
    async with app_client(settings) as client:
        yield client


async def stored(sessions: SessionFactory, key: str) -> MessageTemplate:
    async with sessions() as session:
        row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
    assert row is not None
    return row


async def test_the_list_shows_every_template(http: AsyncClient) -> None:
    page = await http.get("/settings/templates")
    assert page.status_code == 200
    for key in ("inquiry.confirmation", "inquiry.expose", "inquiry.followup.1", "inquiry.followup.2", "lead.reminder"):
        assert f'data-template-key="{key}"' in page.text
    assert "Anfrage: Bestätigung der E-Mail-Adresse" in page.text


async def test_the_editor_shows_the_template_rendered_on_demo_data(http: AsyncClient) -> None:
    page = await http.get(EDIT)
    assert page.status_code == 200
    assert "{{ confirm_link }}" in page.text  # the source, autoescaped into the textarea
    assert "Sehr geehrte Frau Neu," in page.text  # the preview: demo prospect …
    assert "Helle 3-Zimmer-Wohnung mit Balkon in Kreuzberg" in page.text  # … and demo property
    assert "http://testserver/confirm/BEISPIEL" in page.text
    assert "<code>{{ prospect.first_name }}</code>" in page.text  # the variables the template may use
    assert 'data-preview-url="/settings/templates/inquiry.confirmation/preview"' in page.text


async def test_the_preview_endpoint_renders_or_says_why_not(http: AsyncClient) -> None:
    url = f"{EDIT}/preview"
    good = await http.post(url, json={"subject": "Hallo {{ prospect.first_name }}", "body": "{{ manager.name }}"})
    broken = await http.post(url, json={"subject": "x", "body": "{% if %}"})
    unknown = await http.post(url, json={"subject": "x", "body": "{{ provision }}"})
    assert good.json() == {"ok": True, "subject": "Hallo Nina", "body": "Anna Agent", "error": None}
    assert broken.json()["ok"] is False and "TemplateSyntaxError" in broken.json()["error"]
    assert unknown.json()["ok"] is False and "'provision' is undefined" in unknown.json()["error"]


async def test_a_valid_edit_is_saved(http: AsyncClient, sessions: SessionFactory) -> None:
    body = "{{ salutation_line }}\r\n\r\nbitte bestätigen: {{ confirm_link }}\r\n"
    response = await http.post(EDIT, data={"subject": " Bitte bestätigen: {{ property.ref }} ", "body": body})
    assert response.status_code == 303 and response.headers["location"] == "/settings/templates"
    page = await http.get("/settings/templates")
    assert "Die Vorlage „Anfrage: Bestätigung der E-Mail-Adresse“ wurde gespeichert." in page.text
    row = await stored(sessions, "inquiry.confirmation")
    assert row.subject == "Bitte bestätigen: {{ property.ref }}"
    assert row.body == "{{ salutation_line }}\n\nbitte bestätigen: {{ confirm_link }}\n"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{% for x in %}", "TemplateSyntaxError"),
        ("{{ prospect.telefon }}", "has no attribute 'telefon'"),
        ("{{ ''.__class__.__mro__ }}", "Zugriff auf interne Attribute („__mro__“)"),
        ("{{ property['__class__'] }}", "Zugriff auf interne Attribute („__class__“)"),
        ("{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}", "SecurityError"),
    ],
    ids=["syntax", "undefined", "dunder", "dunder-item", "endless"],
)
async def test_a_template_that_fails_is_refused_with_the_error(
    http: AsyncClient, sessions: SessionFactory, body: str, error: str
) -> None:
    before = await stored(sessions, "inquiry.confirmation")
    response = await http.post(EDIT, data={"subject": "Betreff", "body": body})
    assert response.status_code == 422
    assert "Nicht gespeichert: Die Vorlage lässt sich nicht erzeugen." in response.text
    assert error.replace("'", "&#39;") in response.text
    assert (await stored(sessions, "inquiry.confirmation")).body == before.body


async def test_templates_of_other_features_preview_with_placeholders(
    http: AsyncClient, sessions: SessionFactory
) -> None:
    async with sessions.begin() as session:
        session.add(MessageTemplate(key="custom.hello", name="Eigene", subject="Hallo", body="{{ kunde.name }}"))
    page = await http.get("/settings/templates/custom.hello")
    assert "‹kunde.name›" in page.text and "keine Beispieldaten" in page.text
    escape = await http.post("/settings/templates/custom.hello", data={"subject": "x", "body": "{{ ''.__class__ }}"})
    assert escape.status_code == 422
    saved = await http.post("/settings/templates/custom.hello", data={"subject": "x", "body": "{{ kunde.vorname }}"})
    assert saved.status_code == 303


async def test_lead_templates_preview_on_demo_data(http: AsyncClient) -> None:
    page = await http.get("/settings/templates/lead.reminder")
    assert "Überfälliger Lead: Familie Neu sucht 3 Zimmer (Besichtigung)" in page.text
    assert "/leads/42" in page.text and "/api/leads/" not in page.text  # the link a real reminder carries


async def test_an_unknown_template_is_a_404(http: AsyncClient) -> None:
    assert (await http.get("/settings/templates/nope")).status_code == 404
    assert (await http.post("/settings/templates/nope", data={"subject": "x", "body": "y"})).status_code == 404
