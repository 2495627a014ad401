"""The lead API on SQLite and PostgreSQL: validation with clear reasons, and every write with its event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.models import DomainEvent, Lead
from db.session import SessionFactory
from settings import Settings
from starter.services import leads as lead_service
from tests.lead_harness import PROCESS as SALES_PROCESS
from tests.lead_harness import Office, api_client, leads_app, seed_office

# The shared process plus a last phase without a duration (never overdue).
PROCESS: dict[str, Any] = {**SALES_PROCESS, "phases": [*SALES_PROCESS["phases"], {"name": "Abschluss"}]}


@pytest.fixture
async def api(settings: Settings, engine: AsyncEngine, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(leads_app(settings, engine, sessions)) as client:
        yield client


@pytest.fixture
async def office(sessions: SessionFactory) -> Office:
    return await seed_office(sessions)


async def events(sessions: SessionFactory, kind: str | None = None) -> list[DomainEvent]:
    async with sessions() as session:
        query = select(DomainEvent).order_by(DomainEvent.id)
        if kind is not None:
            query = query.where(DomainEvent.kind == kind)
        return list(await session.scalars(query))


async def new_process(api: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await api.post("/api/sales-processes", json={**PROCESS, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_lead(api: httpx.AsyncClient, office: Office, process: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payload = {
        "title": "Familie Kauf sucht Haus",
        "contact_id": office.contact_id,
        "property_id": office.property_id,
        "process_id": process["id"],
        "taker_user_id": office.taker_id,
        **changes,
    }
    response = await api.post("/api/leads", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- sales processes -----------------------------------------------------------------------------------


async def test_sales_process_create_list_update(api: httpx.AsyncClient, sessions: SessionFactory) -> None:
    process = await new_process(api)
    assert process["reminders"] == {"enabled": True, "interval": 1, "unit": "weeks"}
    assert [(p["name"], p["duration_seconds"]) for p in process["phases"]] == [
        ("Erstkontakt", 3 * 86400),
        ("Besichtigung", 2 * 86400),
        ("Abschluss", None),
    ]
    assert process["phases"][0]["duration"] == {"value": 3, "unit": "days"}
    listed = (await api.get("/api/sales-processes")).json()
    assert [p["id"] for p in listed] == [process["id"]]

    first, second, last = process["phases"]
    update = {
        "name": "Verkauf Häuser",
        "reminders": {"enabled": True, "interval": 2, "unit": "days"},
        "phases": [
            {"id": second["id"], "name": "Besichtigung", "duration": {"value": 1, "unit": "weeks"}},
            {"id": first["id"], "name": "Erstkontakt", "duration": {"value": 36, "unit": "hours"}},
            {"name": "Finanzierung", "duration": {"value": 5, "unit": "days"}},
            {"id": last["id"], "name": "Abschluss"},
        ],
    }
    response = await api.put(f"/api/sales-processes/{process['id']}", json=update)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Verkauf Häuser"
    assert [(p["id"], p["position"], p["name"]) for p in updated["phases"]][:2] == [
        (second["id"], 0, "Besichtigung"),
        (first["id"], 1, "Erstkontakt"),
    ]
    assert updated["phases"][1]["duration"] == {"value": 36, "unit": "hours"}
    assert updated["phases"][2]["name"] == "Finanzierung" and updated["phases"][3]["id"] == last["id"]
    assert (await api.get(f"/api/sales-processes/{process['id']}")).json() == updated
    recorded = await events(sessions, "sales_process.changed")
    assert [e.payload["created"] for e in recorded] == [True, False]
    assert all(e.payload["process_id"] == process["id"] for e in recorded)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"reminders": {"enabled": True}, "phases": [{"name": "A"}]}, "Nachfassmails brauchen eine Phasendauer"),
        ({"phases": [{"name": "A"}, {"name": "a"}]}, "eigenen Namen"),
        ({"phases": []}, "at least 1"),
        ({"reminders": {"enabled": True, "interval": 1, "unit": "months"}}, "'hours', 'days' or 'weeks'"),
        ({"reminders": {"enabled": True, "interval": 0, "unit": "days"}}, "greater than or equal to 1"),
        ({"phases": [{"name": "A", "duration": {"value": 0, "unit": "days"}}]}, "greater than or equal to 1"),
        ({"name": "   "}, "darf nicht leer"),
    ],
)
async def test_sales_process_validation(api: httpx.AsyncClient, change: dict[str, Any], reason: str) -> None:
    response = await api.post("/api/sales-processes", json={**PROCESS, **change})
    assert response.status_code == 422
    assert reason in response.text


async def test_sales_process_conflicts(api: httpx.AsyncClient, office: Office, sessions: SessionFactory) -> None:
    process = await new_process(api)
    assert (await api.post("/api/sales-processes", json=PROCESS)).status_code == 409
    other = await new_process(api, name="Vermietung")
    await new_lead(api, office, process)
    url = f"/api/sales-processes/{process['id']}"
    keep_first = {
        **PROCESS,
        "phases": [{"id": p["id"], "name": p["name"], "duration": p["duration"]} for p in process["phases"][1:]],
    }
    response = await api.put(url, json=keep_first)
    assert response.status_code == 409 and "Erstkontakt" in response.json()["detail"]
    foreign = {
        **PROCESS,
        "phases": [{"id": other["phases"][0]["id"], "name": "X", "duration": {"value": 1, "unit": "days"}}],
    }
    response = await api.put(url, json=foreign)
    assert response.status_code == 422 and "gehört nicht zu diesem Vertriebsprozess" in response.json()["detail"]
    assert (await api.put(f"/api/sales-processes/{other['id']}", json=PROCESS)).status_code == 409  # name taken
    assert (await api.put("/api/sales-processes/999999", json=PROCESS)).status_code == 404
    assert len(await events(sessions, "sales_process.changed")) == 2  # refused writes record nothing


async def test_process_change_lists_the_open_leads(
    api: httpx.AsyncClient, office: Office, sessions: SessionFactory
) -> None:
    process = await new_process(api)
    open_lead = await new_lead(api, office, process)
    closed_lead = await new_lead(api, office, process)
    assert (await api.post(f"/api/leads/{closed_lead['id']}/close")).status_code == 200
    phases = [{"id": p["id"], "name": p["name"], "duration": p["duration"]} for p in process["phases"]]
    response = await api.put(f"/api/sales-processes/{process['id']}", json={**PROCESS, "phases": phases})
    assert response.status_code == 200
    changed = (await events(sessions, "sales_process.changed"))[-1]
    assert changed.payload["lead_ids"] == [open_lead["id"]]


# --- leads ---------------------------------------------------------------------------------------------


async def test_lead_lifecycle_records_each_event(
    api: httpx.AsyncClient, office: Office, sessions: SessionFactory
) -> None:
    process = await new_process(api)
    first, second, _ = process["phases"]
    lead = await new_lead(api, office, process)
    lead_id = lead["id"]
    entered = when(lead["phase_entered_at"])
    assert lead["phase"]["id"] == first["id"] and lead["workflow_id"] == f"lead-{lead_id}"
    assert (lead["overdue"], when(lead["overdue_at"])) == (False, entered + timedelta(days=3))

    response = await api.post(f"/api/leads/{lead_id}/phase", json={"phase_id": second["id"]})
    assert response.status_code == 200
    moved = response.json()
    assert moved["phase"]["name"] == "Besichtigung"
    assert when(moved["overdue_at"]) == when(moved["phase_entered_at"]) + timedelta(days=2)

    starts = datetime.now(UTC) + timedelta(days=4)
    response = await api.post(
        f"/api/leads/{lead_id}/appointments",
        json={
            "title": "Besichtigung",
            "kind": "viewing",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    appointment = response.json()
    due = datetime.now(UTC) + timedelta(days=1)
    response = await api.post(
        f"/api/leads/{lead_id}/tasks", json={"title": "Finanzierung klären", "due_at": due.isoformat()}
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["assignee_user_id"] == office.taker_id

    shown = (await api.get(f"/api/leads/{lead_id}")).json()
    # The appointment ends after the task is due: it holds the lead longest.
    assert when(shown["held_until"]) == starts + timedelta(hours=1)
    assert when(shown["overdue_at"]) == starts + timedelta(hours=1, days=2)

    closed = (await api.post(f"/api/leads/{lead_id}/close")).json()
    assert closed["status"] == "closed" and closed["overdue"] is False

    recorded = await events(sessions)
    assert [e.kind for e in recorded] == [
        "sales_process.changed",
        "lead.created",
        "lead.phase_changed",
        "appointment.created",
        "task.created",
        "lead.closed",
    ]
    created, phase_changed, appointment_created, task_created, lead_closed = (e.payload for e in recorded[1:])
    assert created == {
        "lead_id": lead_id,
        "process_id": process["id"],
        "phase_id": first["id"],
        "phase_entered_at": entered.isoformat(),
    }
    assert phase_changed["phase_id"] == second["id"] and phase_changed["previous_phase_id"] == first["id"]
    assert appointment_created["lead_id"] == lead_id and appointment_created["appointment_id"] == appointment["id"]
    assert when(appointment_created["starts_at"]) == starts
    assert appointment_created["contact_id"] == office.contact_id and appointment_created["kind"] == "viewing"
    assert task_created["task_id"] == task["id"] and when(task_created["due_at"]) == due
    assert lead_closed["lead_id"] == lead_id


async def test_lead_refusals(api: httpx.AsyncClient, office: Office, sessions: SessionFactory) -> None:
    process = await new_process(api)
    other = await new_process(api, name="Vermietung")
    lead = await new_lead(api, office, process)
    url = f"/api/leads/{lead['id']}"

    async def refused(method: str, path: str, payload: dict[str, Any] | None, status: int, reason: str) -> None:
        response = await api.request(method, path, json=payload)
        assert response.status_code == status, response.text
        assert reason in response.text

    base = {
        "title": "X",
        "contact_id": office.contact_id,
        "process_id": process["id"],
        "taker_user_id": office.taker_id,
    }
    await refused("POST", "/api/leads", {**base, "contact_id": 999999}, 422, "Kontakt 999999 existiert nicht")
    await refused("POST", "/api/leads", {**base, "process_id": 999999}, 422, "Vertriebsprozess 999999")
    await refused("POST", "/api/leads", {**base, "taker_user_id": 999999}, 422, "Leadnehmer 999999")
    await refused("POST", "/api/leads", {**base, "phase_id": other["phases"][0]["id"]}, 422, "gehört nicht")
    await refused("POST", "/api/leads", {**base, "title": ""}, 422, "at least 1 character")
    await refused("GET", "/api/leads/999999", None, 404, "Lead 999999 existiert nicht")
    await refused("POST", f"{url}/phase", {"phase_id": lead["phase"]["id"]}, 409, "bereits in der Phase")
    await refused("POST", f"{url}/phase", {"phase_id": other["phases"][1]["id"]}, 422, "gehört nicht")
    start = "2030-05-04T10:00:00+02:00"
    await refused(
        "POST", f"{url}/appointments", {"title": "T", "starts_at": start, "ends_at": start}, 422, "nach seinem Beginn"
    )
    naive = {"title": "T", "starts_at": "2030-05-04T10:00:00", "ends_at": "2030-05-04T11:00:00"}
    await refused("POST", f"{url}/appointments", naive, 422, "timezone")
    await refused("POST", f"{url}/tasks", {"title": "T", "assignee_user_id": 999999}, 422, "Benutzer 999999")
    assert (await api.post(f"{url}/close")).status_code == 200
    await refused("POST", f"{url}/close", None, 409, "geschlossen")
    await refused("POST", f"{url}/phase", {"phase_id": process["phases"][1]["id"]}, 409, "geschlossen")
    await refused("POST", f"{url}/tasks", {"title": "T"}, 409, "geschlossen")
    assert [e.kind for e in await events(sessions)][-2:] == ["lead.created", "lead.closed"]


async def test_change_and_event_commit_together(
    api: httpx.AsyncClient, office: Office, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the event was added rolls back the lead as well: neither or both."""
    process = await new_process(api)

    def broken(session: AsyncSession, kind: str, payload: dict[str, Any], *, depth: int = 0) -> DomainEvent:
        session.add(DomainEvent(kind=kind, payload=payload, depth=depth))
        raise RuntimeError("crash between change and commit")

    monkeypatch.setattr(lead_service, "record_event", broken)
    payload = {
        "title": "X",
        "contact_id": office.contact_id,
        "process_id": process["id"],
        "taker_user_id": office.taker_id,
    }
    response = await api.post("/api/leads", json=payload)
    assert response.status_code == 500
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0
    assert [e.kind for e in await events(sessions)] == ["sales_process.changed"]
