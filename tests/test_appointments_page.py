"""/appointments: a day or week list per user, in the office's time zone, across the DST change."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from db.models import Appointment, Contact, User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests.http import app_client, login

pytestmark = pytest.mark.one_backend

ANNA, OTTO, ADMIN, PASSWORD = "anna@office.example", "otto@office.example", "chefin@office.example", "geheim-genug"


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def calendar(sessions: SessionFactory) -> dict[str, int]:
    """The week of Monday 23 March 2026 to Sunday 29 March (Berlin moves to summer time that Sunday)."""
    async with sessions.begin() as session:
        anna = User(email=ANNA, name="Anna Agent", password_hash=hash_password(PASSWORD))
        otto = User(email=OTTO, name="Otto Other", password_hash=hash_password(PASSWORD))
        admin = User(email=ADMIN, name="Clara Chefin", password_hash=hash_password(PASSWORD), role="admin")
        klara = Contact(first_name="Klara", last_name="Kauf", email="klara@example.com")
        session.add_all([anna, otto, admin, klara])
        await session.flush()
        rows = {
            # Tuesday 10:00–11:00 Berlin (UTC+1)
            "tuesday": Appointment(title="Besichtigung W-1001", kind="viewing", user_id=anna.id, contact_id=klara.id,
                                   starts_at=utc(2026, 3, 24, 9), ends_at=utc(2026, 3, 24, 10)),
            # Monday 00:30 Berlin is Sunday 23:30 UTC: it belongs to Monday
            "early_monday": Appointment(title="Frühtermin", user_id=anna.id,
                                        starts_at=utc(2026, 3, 22, 23, 30), ends_at=utc(2026, 3, 23, 0, 30)),
            # Sunday 10:00 Berlin summer time is 08:00 UTC
            "sunday": Appointment(title="Sonntagstermin", user_id=anna.id,
                                  starts_at=utc(2026, 3, 29, 8), ends_at=utc(2026, 3, 29, 9)),
            # the next Monday 00:30 Berlin (summer time) is Sunday 22:30 UTC: next week
            "next_week": Appointment(title="Nächste Woche", user_id=anna.id,
                                     starts_at=utc(2026, 3, 29, 22, 30), ends_at=utc(2026, 3, 29, 23)),
            "ottos": Appointment(title="Ottos Termin", user_id=otto.id,
                                 starts_at=utc(2026, 3, 24, 12), ends_at=utc(2026, 3, 24, 13)),
        }  # fmt: skip
        session.add_all(rows.values())
        await session.flush()
        return {name: row.id for name, row in rows.items()} | {"otto": otto.id, "klara": klara.id}


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="appointment-(\d+)"', html)]


async def test_the_week_list_shows_the_agents_appointments_by_local_day(
    settings: Settings, calendar: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as anna:
        await login(anna, ANNA, PASSWORD)
        week = (await anna.get("/appointments?view=week&day=2026-03-26")).text
    assert _ids(week) == [calendar["early_monday"], calendar["tuesday"], calendar["sunday"]]
    monday = week.split('id="day-2026-03-23"')[1].split("</section>")[0]
    assert "Frühtermin" in monday and "00:30–01:30" in monday
    sunday = week.split('id="day-2026-03-29"')[1].split("</section>")[0]
    assert "10:00–11:00" in sunday
    assert "Ottos Termin" not in week and "Besichtigung" in week
    assert f'<a href="/contacts/{calendar["klara"]}">Klara Kauf</a>' in week  # the prospect's page is a click away
    assert "day=2026-03-16" in week and "day=2026-03-30" in week  # previous and next week


async def test_the_day_list_and_other_users(settings: Settings, calendar: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as anna, app_client(settings, auth=None) as admin:
        await login(anna, ANNA, PASSWORD)
        await login(admin, ADMIN, PASSWORD)
        tuesday = _ids((await anna.get("/appointments?view=day&day=2026-03-24")).text)
        sneaky = _ids((await anna.get(f"/appointments?view=day&day=2026-03-24&user={calendar['otto']}")).text)
        ottos = _ids((await admin.get(f"/appointments?view=day&day=2026-03-24&user={calendar['otto']}")).text)
        everyone = _ids((await admin.get("/appointments?view=day&day=2026-03-24&user=all")).text)
        next_monday = _ids((await anna.get("/appointments?view=day&day=2026-03-30")).text)
    assert tuesday == [calendar["tuesday"]]
    assert sneaky == [calendar["tuesday"]]  # an agent's list is always her own
    assert ottos == [calendar["ottos"]]
    assert everyone == [calendar["tuesday"], calendar["ottos"]]
    assert next_monday == [calendar["next_week"]]


async def test_a_garbled_day_falls_back_instead_of_failing(settings: Settings, calendar: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as anna:
        await login(anna, ANNA, PASSWORD)
        response = await anna.get("/appointments?view=month&day=2026-13-45")
    assert response.status_code == 200 and "Woche ab" in response.text
