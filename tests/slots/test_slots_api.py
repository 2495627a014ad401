"""The time-slot API: refusals with reasons, start of the workflow, the agent's choice, settings, Temporal down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import Appointment, DomainEvent, Property
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from tests.http import app_client
from tests.slot_harness import SlotHarness, proposals, temporal_down
from workflows.slot_models import SlotState

pytestmark = pytest.mark.timeout(120)


def body(harness: SlotHarness, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "contact_id": harness.office.prospect_id,
        "property_id": harness.office.property_id,
        "recipient": "user",
        "recipient_user_id": harness.office.agent_id,
        "response_types": ["email", "sms"],
    }
    values.update(fields)
    return values


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"contact_id": 999}, 404, "Kontakt 999 existiert nicht"),
        ({"property_id": 999}, 404, "Immobilie 999 existiert nicht"),
        ({"recipient_user_id": None}, 422, "recipient_user_id fehlt"),
        ({"recipient_user_id": 999}, 422, "Benutzer 999 existiert nicht"),
        ({"created_by_user_id": 999}, 422, "Benutzer 999 (created_by_user_id) existiert nicht"),
        (
            {"recipient": "contact_person", "recipient_user_id": None, "property_id": None},
            422,
            "braucht eine Immobilie",
        ),
        ({"recipient": "contact_person"}, 422, "nur für den Empfänger user"),
        ({"response_types": []}, 422, "at least 1"),
        ({"response_types": ["email", "email"]}, 422, "each response type at most once"),
        ({"response_types": ["fax"]}, 422, "'email', 'task' or 'sms'"),
        ({"recipient": "mailbox"}, 422, "'user' or 'contact_person'"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, 422, "nicht in der Zukunft"),
        ({"expires_at": "2030-01-01T00:00:00"}, 422, "timezone"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    harness: SlotHarness, settings: Settings, fields: dict[str, Any], status: int, reason: str
) -> None:
    async with app_client(temporal_down(settings)) as http:
        response = await http.post("/api/slot-requests", json=body(harness, **fields))
    assert response.status_code == status, response.text
    assert reason in response.text


async def test_property_without_contact_person_is_refused(harness: SlotHarness, settings: Settings) -> None:
    async with harness.sessions() as session:
        sold = await session.scalar(select(Property.id).where(Property.external_ref == "W-1002"))
    async with app_client(temporal_down(settings)) as http:
        response = await http.post(
            "/api/slot-requests",
            json=body(harness, recipient="contact_person", recipient_user_id=None, property_id=sold),
        )
    assert response.status_code == 422 and "keinen Ansprechpartner" in response.text


async def test_request_is_made_mailed_answered_and_scheduled_through_the_api(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    app_settings = settings.model_copy(update={"task_queue": harness.task_queue})
    async with app_client(app_settings, workflow_env.client) as http:
        created = await http.post(
            "/api/slot-requests", json=body(harness, expires_at=(now + timedelta(days=7)).isoformat())
        )
        assert created.status_code == 201, created.text
        out = created.json()
        assert out["workflow_started"] is True and out["workflow_id"] == f"slots-{out['id']}"
        assert out["link"].startswith("http://testserver/slots/")
        handle = workflow_env.client.get_workflow_handle(out["workflow_id"])
        harness.started.append(handle)  # finished by the harness at the end
        await harness.wait_for(handle, SlotState.WAITING)
        assert smtp_sink.received[0].rcpt_tos == ("nina@example.com",)
        assert (await http.get(f"/api/slot-requests/{out['id']}")).json()["status"] == "waiting"

        slots = proposals(now, 3)
        await harness.submit(handle, harness.nonce_from(out["link"]), slots)
        await harness.wait_until_routed(handle)
        answered = (await http.get(f"/api/slot-requests/{out['id']}")).json()
        assert answered["status"] == "answered" and [p["position"] for p in answered["proposals"]] == [1, 2, 3]
        assert [d["channel"] for d in answered["deliveries"]] == ["email", "sms"]

        missing = await http.post(f"/api/slot-requests/{out['id']}/choose", json={"position": 4})
        assert missing.status_code == 422 and "keinen Vorschlag 4" in missing.text
        out_of_range = await http.post(f"/api/slot-requests/{out['id']}/choose", json={"position": 6})
        assert out_of_range.status_code == 422
        chosen = await http.post(f"/api/slot-requests/{out['id']}/choose", json={"position": 3})
        assert chosen.status_code == 200, chosen.text
        scheduled = chosen.json()
        assert scheduled["status"] == "scheduled" and scheduled["chosen_position"] == 3
        again = await http.post(f"/api/slot-requests/{out['id']}/choose", json={"position": 1})
        assert again.status_code == 409

        listed = await http.get("/api/slot-requests", params={"contact_id": harness.office.prospect_id})
        assert [r["id"] for r in listed.json()] == [out["id"]]
        assert (await http.get("/api/slot-requests", params={"status": "waiting"})).json() == []
        assert (await http.get("/api/slot-requests/999999")).status_code == 404

    async with harness.sessions() as session:
        appointment = await session.get(Appointment, scheduled["appointment_id"])
    assert appointment is not None and appointment.starts_at == slots[2].starts_at
    assert "Terminbestätigung" in smtp_sink.received[-1].subject


async def test_request_is_kept_when_temporal_is_down(harness: SlotHarness, settings: Settings) -> None:
    async with app_client(temporal_down(settings)) as http:
        response = await http.post(
            "/api/slot-requests",
            json=body(harness, expires_at=(datetime.now(UTC) + timedelta(days=3)).isoformat()),
        )
    assert response.status_code == 201, response.text
    assert response.json()["workflow_started"] is False and response.json()["status"] == "created"
    async with harness.sessions() as session:
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "slot_request.created")))
    assert [e.payload["slot_request_id"] for e in events] == [response.json()["id"]]  # the dispatcher starts it


async def test_settings_round_trip_and_validation(harness: SlotHarness, settings: Settings) -> None:
    async with app_client(temporal_down(settings)) as http:
        defaults = (await http.get("/api/settings/time-slots")).json()
        assert defaults["default_validity"] == "P14D" and "besichtigen" in defaults["viewing_text"]
        changed = await http.put(
            "/api/settings/time-slots",
            json={**defaults, "viewing_text": "Kommen Sie vorbei!", "default_validity": "P3D"},
        )
        assert changed.status_code == 200
        assert (await http.get("/api/settings/time-slots")).json()["viewing_text"] == "Kommen Sie vorbei!"
        bad = await http.put("/api/settings/time-slots", json={**defaults, "default_validity": "PT0S"})
        assert bad.status_code == 422
        empty = await http.put("/api/settings/time-slots", json={**defaults, "viewing_text": ""})
        assert empty.status_code == 422
        created = await http.post("/api/slot-requests", json=body(harness))
    # No expiry given: the configured validity (3 days) counts from now.
    expires = datetime.fromisoformat(created.json()["expires_at"])
    assert timedelta(days=3) - timedelta(minutes=5) < expires - datetime.now(UTC) <= timedelta(days=3)
