"""The CRM API: every write commits its domain event with it (transactional outbox); bad links are 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.models import Activity, DomainEvent
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.http import app_client


@pytest.fixture
async def office(sessions: SessionFactory) -> dict[str, Any]:
    return await factories.office(sessions)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


async def events(sessions: SessionFactory) -> list[tuple[str, dict[str, Any], int]]:
    async with sessions() as session:
        rows = await session.scalars(select(DomainEvent).order_by(DomainEvent.id))
        return [(row.kind, row.payload, row.depth) for row in rows]


async def post(api: httpx.AsyncClient, path: str, payload: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = await api.post(path, json=payload)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_each_write_records_its_event(
    api: httpx.AsyncClient, office: dict[str, Any], sessions: SessionFactory
) -> None:
    prop = office["active"].id
    contact = await post(
        api, "/api/contacts", {"last_name": "Kunde", "email": " Kunde@Example.com", "birthday": "1980-05-17"}
    )
    assert (contact["email"], contact["source"], contact["status"]) == ("kunde@example.com", "api", "prospect")
    activity = await post(
        api,
        "/api/activities",
        {"kind": "Absage", "reason": "Kein Kontakt mehr gewünscht", "contact_id": contact["id"], "property_id": prop},
    )
    note = await post(api, "/api/notes", {"text": "Objekt archivieren", "property_id": prop})
    deal = await post(api, "/api/deals", {"contact_id": contact["id"], "property_id": prop, "stage": "Anfrage"})
    moved = await post(api, f"/api/deals/{deal['id']}/stage", {"stage": " Reserviert "}, status=200)
    same = await post(api, f"/api/deals/{deal['id']}/stage", {"stage": "Reserviert"}, status=200)
    appointment = await post(
        api,
        "/api/appointments",
        {
            "title": "Besichtigung",
            "starts_at": "2026-12-03T10:00:00+01:00",
            "ends_at": "2026-12-03T10:30:00+01:00",
            "contact_id": contact["id"],
            "property_id": prop,
        },
    )

    assert (moved["stage"], moved["changed"], same["changed"]) == ("Reserviert", True, False)
    recorded = await events(sessions)
    assert [kind for kind, _, _ in recorded] == [
        "contact.created",
        "activity.created",
        "note.created",
        "deal.created",
        "deal.stage_changed",
        "appointment.created",
    ]
    assert all(depth == 0 for _, _, depth in recorded)  # people's changes start a chain
    payloads = {kind: payload for kind, payload, _ in recorded}
    assert payloads["contact.created"] == {"contact_id": contact["id"], "source": "api", "created_by_automation": False}
    assert payloads["activity.created"] == {
        "activity_id": activity["id"],
        "kind": "absage",
        "reason": "Kein Kontakt mehr gewünscht",
        "contact_id": contact["id"],
        "property_id": prop,
        "inquiry_id": None,
    }
    assert payloads["note.created"] == {"note_id": note["id"], "contact_id": None, "property_id": prop}
    assert payloads["deal.stage_changed"] == {
        "deal_id": deal["id"],
        "stage": "Reserviert",
        "previous_stage": "Anfrage",
        "contact_id": contact["id"],
        "property_id": prop,
    }
    assert payloads["appointment.created"]["appointment_id"] == appointment["id"]
    assert payloads["appointment.created"]["kind"] == "viewing"
    assert payloads["appointment.created"]["lead_id"] is None

    listed = (await api.get("/api/activities", params={"contact_id": contact["id"]})).json()
    assert [a["id"] for a in listed] == [activity["id"]]
    assert [n["id"] for n in (await api.get("/api/notes", params={"property_id": prop})).json()] == [note["id"]]
    assert (await api.get(f"/api/deals/{deal['id']}")).json()["stage"] == "Reserviert"
    assert (await api.get(f"/api/contacts/{contact['id']}")).json()["birthday"] == "1980-05-17"


async def test_journal_entry_for_an_inquiry(
    api: httpx.AsyncClient, office: dict[str, Any], sessions: SessionFactory
) -> None:
    """Seed 000's stop activities can be recorded against an inquiry before the prospect has a contact."""
    inquiry = await factories.inquiry(sessions)
    entry = await post(api, "/api/activities", {"kind": "zusage", "inquiry_id": inquiry.id})
    async with sessions() as session:
        row = await session.get(Activity, entry["id"])
    assert row is not None and row.inquiry_id == inquiry.id and row.occurred_at is not None


async def test_bad_input_is_refused_and_writes_nothing(
    api: httpx.AsyncClient, office: dict[str, Any], sessions: SessionFactory
) -> None:
    refused = [
        ("/api/contacts", {"last_name": "X", "email": "kein-at"}, 422),
        ("/api/contacts", {"last_name": "X", "source": "automation:1:2"}, 422),
        ("/api/contacts", {"last_name": "X", "owner_user_id": 999}, 422),
        ("/api/activities", {"kind": "absage", "contact_id": 999}, 422),
        ("/api/notes", {"text": "ohne Bezug"}, 422),
        ("/api/deals", {"contact_id": 999, "stage": "Anfrage"}, 422),
        ("/api/deals/999/stage", {"stage": "Reserviert"}, 404),
        (
            "/api/appointments",
            {"title": "T", "starts_at": "2026-12-03T10:00:00", "ends_at": "2026-12-03T11:00:00"},
            422,
        ),
        (
            "/api/appointments",
            {"title": "T", "starts_at": "2026-12-03T10:00:00+01:00", "ends_at": "2026-12-03T09:00:00+01:00"},
            422,
        ),
    ]
    for path, payload, status in refused:
        response = await api.post(path, json=payload)
        assert response.status_code == status, (path, payload, response.text)
    assert await events(sessions) == []
    assert (await api.get("/api/contacts/999")).status_code == 404
