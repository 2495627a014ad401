"""Instants people type are bounded where they enter, and the lead schedule's arithmetic saturates.

`9999-12-31T23:59:59Z` ("no due date") used to be accepted and then overflow in `overdue_at`, so the lead
pages answered 422 and `lead-<id>` failed its workflow tasks forever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Task
from db.session import SessionFactory
from domain import lead_schedule
from domain.instants import ACCEPTED_FROM, ACCEPTED_UNTIL, NEVER, plus
from settings import Settings
from starter.services.lead_inputs import AppointmentInput, TaskInput
from tests import factories
from tests.http import app_client
from tests.lead_harness import Office, api_client, leads_app, seed_office
from tests.test_lead_api import PROCESS

FAR = ["9999-12-31T23:59:59Z", "9999-12-31T23:00-10:00", "0001-01-01T00:00:00+14:00", "2101-01-01T00:00:00Z"]


@pytest.fixture
async def api(settings: Settings, engine: AsyncEngine, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(leads_app(settings, engine, sessions)) as client:
        yield client


async def _lead(api: httpx.AsyncClient, office: Office) -> int:
    process = (await api.post("/api/sales-processes", json=PROCESS)).json()
    lead = await api.post(
        "/api/leads",
        json={
            "title": "Familie Kauf",
            "contact_id": office.contact_id,
            "process_id": process["id"],
            "taker_user_id": office.taker_id,
        },
    )
    assert lead.status_code == 201, lead.text
    return int(lead.json()["id"])


@pytest.mark.parametrize("due_at", FAR)
async def test_task_due_far_away_is_refused_naming_the_field(
    api: httpx.AsyncClient, sessions: SessionFactory, due_at: str
) -> None:
    lead_id = await _lead(api, await seed_office(sessions))
    response = await api.post(f"/api/leads/{lead_id}/tasks", json={"title": "Irgendwann", "due_at": due_at})
    assert response.status_code == 422, response.text
    assert "due_at" in {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert (await api.get(f"/api/leads/{lead_id}")).status_code == 200


@pytest.mark.parametrize("ends_at", FAR[:2])
async def test_lead_appointment_ending_far_away_is_refused(
    api: httpx.AsyncClient, sessions: SessionFactory, ends_at: str
) -> None:
    lead_id = await _lead(api, await seed_office(sessions))
    body = {"title": "Besichtigung", "starts_at": "2026-12-03T10:00:00+01:00", "ends_at": ends_at}
    response = await api.post(f"/api/leads/{lead_id}/appointments", json=body)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("instant", FAR)
async def test_crm_appointment_far_away_is_refused(settings: Settings, sessions: SessionFactory, instant: str) -> None:
    await factories.office(sessions)
    async with app_client(settings) as http:
        body = {"title": "Besichtigung", "starts_at": "2026-12-03T10:00:00+01:00", "ends_at": instant}
        response = await http.post("/api/appointments", json=body)
        assert response.status_code == 422, response.text
        response = await http.post("/api/activities", json={"kind": "notiz", "occurred_at": instant})
        assert response.status_code == 422, response.text


async def test_a_task_stored_by_an_older_version_does_not_wedge_the_lead(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    """Rows written before the bounds existed: the schedule saturates instead of overflowing."""
    lead_id = await _lead(api, await seed_office(sessions))
    async with sessions.begin() as session:
        session.add(Task(title="Nie", lead_id=lead_id, due_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)))
    response = await api.get(f"/api/leads/{lead_id}")
    assert response.status_code == 200, response.text
    assert response.json()["overdue"] is False


def test_schedule_saturates_at_never() -> None:
    latest = datetime.max.replace(tzinfo=UTC)
    assert lead_schedule.overdue_at(latest, None, timedelta(days=3)) == NEVER
    assert lead_schedule.overdue_at(datetime(2026, 1, 1, tzinfo=UTC), latest, timedelta(days=3)) == NEVER
    assert lead_schedule.first_reminder_at(latest, time(7)) == NEVER
    assert lead_schedule.reminder_at(datetime(2026, 1, 1, tzinfo=UTC), timedelta(weeks=52), 10**6) == NEVER
    assert plus(datetime(2026, 1, 1, tzinfo=UTC), timedelta(days=1)) == datetime(2026, 1, 2, tzinfo=UTC)


offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
typed = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets)


@given(instant=typed, days=st.integers(0, 100_000), reminder=st.integers(1, 100_000))
def test_every_instant_the_lead_api_accepts_is_schedulable(instant: datetime, days: int, reminder: int) -> None:
    try:
        task = TaskInput(title="t", due_at=instant)
    except ValidationError:
        assert not ACCEPTED_FROM <= instant <= ACCEPTED_UNTIL
        return
    assert task.due_at is not None
    hold = lead_schedule.task_hold(datetime(2026, 1, 1, tzinfo=UTC), task.due_at)
    overdue = lead_schedule.overdue_at(datetime(2026, 1, 1, tzinfo=UTC), hold, timedelta(days=days))
    assert overdue is not None and overdue <= NEVER
    first = lead_schedule.first_reminder_at(overdue, time(7))
    assert lead_schedule.reminder_at(first, timedelta(weeks=1), reminder) <= NEVER
    ends: dict[str, Any] = {"title": "a", "starts_at": task.due_at, "ends_at": task.due_at + timedelta(hours=1)}
    if task.due_at + timedelta(hours=1) <= ACCEPTED_UNTIL:
        AppointmentInput(**ends)
