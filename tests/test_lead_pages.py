"""The office's lead pages: the list with the overdue state, a lead's page, and its three actions.

A logged-in agent (session + CSRF, as a browser) against the real app and database; the leads are made
through the JSON API, and every action must leave the same domain event the API's writes leave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update

from db.base import utcnow
from db.models import Appointment, DomainEvent, Lead, Message, PropertyVisibility, Task, User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests.http import app_client, login
from tests.lead_harness import PROCESS, Office, seed_office
from workflows.lead_models import reminder_key

pytestmark = pytest.mark.one_backend


@pytest.fixture
async def office(sessions: SessionFactory) -> Office:
    office = await seed_office(sessions)
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.id == office.taker_id).values(password_hash=hash_password("pw")))
        # Agents file leads on properties visible to them (web.security.visibility).
        session.add(PropertyVisibility(property_id=office.property_id, user_id=office.taker_id))
    return office


@pytest.fixture
async def leads(settings: Settings, office: Office, sessions: SessionFactory) -> dict[str, dict[str, Any]]:
    """Two open leads made through the API; the first one's phase began 5 days ago (overdue since 2)."""
    async with app_client(settings) as api:
        process = (await api.post("/api/sales-processes", json=PROCESS)).json()
        made = {}
        for title in ("Familie Kauf sucht Haus", "Herr Neu will mieten"):
            body = {
                "title": title,
                "contact_id": office.contact_id,
                "process_id": process["id"],
                "taker_user_id": office.taker_id,
            }
            response = await api.post("/api/leads", json=body)
            assert response.status_code == 201, response.text
            made[title] = response.json()
    overdue = made["Familie Kauf sucht Haus"]
    async with sessions.begin() as session:
        await session.execute(
            update(Lead).where(Lead.id == overdue["id"]).values(phase_entered_at=utcnow() - timedelta(days=5))
        )
        session.add(
            Message(
                idempotency_key=reminder_key(overdue["id"], 1, 1),
                channel="email",
                sender="immoflow@office.example",
                recipient="lena.leadnehmer@office.example",
                subject="Lead überfällig: Familie Kauf sucht Haus",
                body_text="…",
                status="sent",
            )
        )
    return {"overdue": overdue, "fresh": made["Herr Neu will mieten"], "process": process}


@pytest.fixture
async def agent(settings: Settings, office: Office) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with app_client(settings, auth=None) as http:
        token = await login(http, "lena.leadnehmer@office.example", "pw")
        yield http, token


async def test_the_list_shows_which_leads_are_overdue(
    agent: tuple[httpx.AsyncClient, str], leads: dict[str, dict[str, Any]]
) -> None:
    http, _ = agent
    page = (await http.get("/leads")).text
    overdue, fresh = leads["overdue"]["id"], leads["fresh"]["id"]
    assert f'id="lead-{overdue}"' in page and f'id="lead-{fresh}"' in page
    row = page.split(f'id="lead-{overdue}"', 1)[1].split("</tr>", 1)[0]
    assert "überfällig seit" in row and "Erstkontakt" in row and "Lena Leadnehmer" in row
    assert "überfällig" not in page.split(f'id="lead-{fresh}"', 1)[1].split("</tr>", 1)[0]

    only_overdue = (await http.get("/leads", params={"overdue": "true"})).text
    assert f'id="lead-{overdue}"' in only_overdue and f'id="lead-{fresh}"' not in only_overdue


async def test_the_list_holds_each_lead_by_its_own_tasks_and_appointments(
    agent: tuple[httpx.AsyncClient, str], leads: dict[str, dict[str, Any]], sessions: SessionFactory
) -> None:
    """The list loads every lead's tasks and appointments at once; each must still count for its own lead."""
    http, _ = agent
    overdue, fresh = leads["overdue"]["id"], leads["fresh"]["id"]
    now = utcnow()
    async with sessions.begin() as session:
        session.add(Task(title="Unterlagen anfordern", lead_id=fresh, due_at=now + timedelta(days=7)))
        # Entered after it took place: no hold (seed 004 counts only appointments in the future).
        yesterday = now - timedelta(days=1)
        session.add(
            Appointment(
                title="Besichtigung", lead_id=overdue, starts_at=yesterday, ends_at=yesterday + timedelta(hours=1)
            )
        )
    listed = (await http.get("/leads", params={"overdue": "true"})).text
    assert f'id="lead-{overdue}"' in listed and f'id="lead-{fresh}"' not in listed

    async with sessions.begin() as session:
        session.add(Task(title="Rückruf", lead_id=overdue, due_at=now + timedelta(days=2)))
    assert f'id="lead-{overdue}"' not in (await http.get("/leads", params={"overdue": "true"})).text
    assert f'id="lead-{overdue}"' in (await http.get("/leads")).text


async def test_the_lead_page_shows_its_state_and_reminders(
    agent: tuple[httpx.AsyncClient, str], leads: dict[str, dict[str, Any]]
) -> None:
    http, _ = agent
    page = await http.get(f"/leads/{leads['overdue']['id']}")
    assert page.status_code == 200
    assert "Familie Kauf sucht Haus" in page.text and "überfällig seit" in page.text
    assert "Lead überfällig: Familie Kauf sucht Haus" in page.text  # the reminder sent
    assert f"/workflows/lead-{leads['overdue']['id']}" in page.text  # the Temporal UI link
    assert (await http.get("/leads/999999")).status_code == 404


async def test_phase_task_and_close_write_their_events(
    agent: tuple[httpx.AsyncClient, str],
    leads: dict[str, dict[str, Any]],
    sessions: SessionFactory,
    settings: Settings,
) -> None:
    http, token = agent
    lead_id = leads["overdue"]["id"]
    second = leads["process"]["phases"][1]["id"]
    forged = await http.post(f"/leads/{lead_id}/phase", data={"phase_id": str(second)})
    assert forged.status_code == 403

    moved = await http.post(f"/leads/{lead_id}/phase", data={"phase_id": str(second), "csrf_token": token})
    assert moved.status_code == 303
    page = (await http.get(f"/leads/{lead_id}")).text
    assert "Phase „Besichtigung“" in page and "überfällig seit" not in page

    task = await http.post(
        f"/leads/{lead_id}/tasks",
        data={"title": "Exposé nachreichen", "due_at": "2030-01-02T09:30", "csrf_token": token},
    )
    assert task.status_code == 303
    untitled = await http.post(f"/leads/{lead_id}/tasks", data={"title": "", "csrf_token": token})
    assert "Die Aufgabe braucht einen Titel" in (await http.get(untitled.headers["location"])).text

    closed = await http.post(f"/leads/{lead_id}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    after = (await http.get(f"/leads/{lead_id}")).text
    assert "Lead geschlossen" in after and 'id="lead-phase"' not in after
    again = await http.post(f"/leads/{lead_id}/phase", data={"phase_id": str(second), "csrf_token": token})
    assert "geschlossen" in (await http.get(again.headers["location"])).text

    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None and (lead.phase_id, lead.status) == (second, "closed")
        tasks = list(await session.scalars(select(Task).where(Task.lead_id == lead_id)))
        kinds = [
            e.kind
            for e in await session.scalars(select(DomainEvent).order_by(DomainEvent.id))
            if e.payload.get("lead_id") == lead_id
        ]
    assert [t.title for t in tasks] == ["Exposé nachreichen"]
    due = tasks[0].due_at
    assert due is not None
    local = (due if due.tzinfo else due.replace(tzinfo=ZoneInfo("UTC"))).astimezone(ZoneInfo(settings.time_zone))
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2030, 1, 2, 9, 30)
    assert kinds[-3:] == ["lead.phase_changed", "task.created", "lead.closed"], kinds


async def test_a_lead_made_on_the_page_starts_its_clock(
    agent: tuple[httpx.AsyncClient, str], leads: dict[str, dict[str, Any]], office: Office, sessions: SessionFactory
) -> None:
    http, token = agent
    page = (await http.get("/leads")).text
    assert 'id="new-lead"' in page and "Verkauf" in page and "Klara Kauf" in page
    form = {
        "csrf_token": token,
        "title": "Frau Kauf will verkaufen",
        "contact_id": str(office.contact_id),
        "property_id": str(office.property_id),
        "process_id": str(leads["process"]["id"]),
        "taker_user_id": "",  # the agent who makes it
    }
    made = await http.post("/leads", data=form)
    assert made.status_code == 303 and made.headers["location"].startswith("/leads/")
    lead_id = int(made.headers["location"].rsplit("/", 1)[-1])
    detail = (await http.get(made.headers["location"])).text
    assert "Frau Kauf will verkaufen" in detail and "Phase „Erstkontakt“" in detail and "angelegt" in detail

    untitled = await http.post("/leads", data={**form, "title": ""})
    assert "Titel: bitte angeben." in (await http.get(untitled.headers["location"])).text
    no_contact = await http.post("/leads", data={**form, "contact_id": ""})
    assert "Kontakt: bitte angeben." in (await http.get(no_contact.headers["location"])).text

    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None and lead.taker_user_id == office.taker_id
        created = [e for e in await session.scalars(select(DomainEvent).where(DomainEvent.kind == "lead.created"))]
        assert [e.payload["lead_id"] for e in created][-1] == lead_id
        assert await session.scalar(select(func.count()).select_from(Lead)) == 3  # the two refused made nothing
