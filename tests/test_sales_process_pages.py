"""/sales-processes: admins create and edit processes with phases, durations and reminders in the browser."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db.base import utcnow
from db.models import Contact, DomainEvent, Lead, SalesProcess, User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests.http import app_client, login

pytestmark = pytest.mark.one_backend

ADMIN, AGENT, PASSWORD = "chefin@office.example", "makler@office.example", "richtig-geheim"
EMPTY_ROW = ("", "", "", "days")  # the empty row the page always offers


@pytest.fixture
async def admin_id(sessions: SessionFactory) -> int:
    async with sessions.begin() as session:
        user = User(email=ADMIN, name="Clara Chefin", password_hash=hash_password(PASSWORD), role="admin")
        session.add_all([user, User(email=AGENT, name="Max Makler", password_hash=hash_password(PASSWORD))])
        await session.flush()
        return user.id


def _form(token: str, name: str, phases: list[tuple[str, str, str, str]], **extra: Any) -> dict[str, Any]:
    """PHASES: (id, name, value, unit) rows as the page posts them (repeated fields, in order)."""
    rows = [*phases, EMPTY_ROW]
    return {
        "csrf_token": token,
        "name": name,
        "phase_id": [row[0] for row in rows],
        "phase_name": [row[1] for row in rows],
        "phase_value": [row[2] for row in rows],
        "phase_unit": [row[3] for row in rows],
        **{key: str(value) for key, value in extra.items()},
    }


async def _process(sessions: SessionFactory, name: str) -> SalesProcess:
    async with sessions() as session:
        process = await session.scalar(select(SalesProcess).where(SalesProcess.name == name))
        assert process is not None
        return process


def _phases(process: SalesProcess) -> list[tuple[str, int | None]]:
    return [(p.name, p.duration_seconds) for p in sorted(process.phases, key=lambda p: p.position)]


async def test_an_admin_creates_a_process_with_phases_and_reminders(
    settings: Settings, sessions: SessionFactory, admin_id: int
) -> None:
    async with app_client(settings, auth=None) as admin:
        token = await login(admin, ADMIN, PASSWORD)
        assert (await admin.get("/sales-processes/new")).status_code == 200
        phases = [("", "Erstkontakt", "3", "days"), ("", "Besichtigung", "36", "hours"), ("", "Abschluss", "", "days")]
        form = _form(token, "Verkauf", phases, reminders_enabled="on", reminder_interval=1, reminder_unit="weeks")
        response = await admin.post("/sales-processes/new", data=form)
        assert response.status_code == 303, response.text
        listing = (await admin.get("/sales-processes")).text
    process = await _process(sessions, "Verkauf")
    assert _phases(process) == [("Erstkontakt", 3 * 86400), ("Besichtigung", 36 * 3600), ("Abschluss", None)]
    assert (process.reminders_enabled, process.reminder_interval, process.reminder_unit) == (True, 1, "weeks")
    assert "Erstkontakt (3 Tage) → Besichtigung (36 Stunden) → Abschluss (ohne Frist)" in listing
    async with sessions() as session:
        kinds = list(await session.scalars(select(DomainEvent.kind)))
    assert kinds == ["sales_process.changed"]


async def test_editing_keeps_phase_ids_and_refuses_dropping_a_phase_in_use(
    settings: Settings, sessions: SessionFactory, admin_id: int
) -> None:
    async with app_client(settings, auth=None) as admin:
        token = await login(admin, ADMIN, PASSWORD)
        phases = [("", "Erstkontakt", "3", "days"), ("", "Besichtigung", "2", "days")]
        created = await admin.post("/sales-processes/new", data=_form(token, "Vermietung", phases))
        process = await _process(sessions, "Vermietung")
        first, second = sorted(process.phases, key=lambda p: p.position)
        async with sessions.begin() as session:
            contact = Contact(last_name="Kauf", email="kauf@example.com")
            session.add(contact)
            await session.flush()
            session.add(
                Lead(
                    title="Familie Kauf",
                    contact_id=contact.id,
                    process_id=process.id,
                    phase_id=second.id,
                    phase_entered_at=utcnow(),
                    taker_user_id=admin_id,
                )
            )
        page = (await admin.get(created.headers["location"])).text
        assert 'value="Erstkontakt"' in page and f'name="phase_remove" value="{second.id}"' in page
        # Rename and move the first phase behind the second: ids stay, so the lead keeps its phase.
        moved = [(str(second.id), "Besichtigung", "2", "days"), (str(first.id), "Erster Kontakt", "1", "weeks")]
        saved = await admin.post(f"/sales-processes/{process.id}", data=_form(token, "Vermietung", moved))
        assert saved.status_code == 303
        refused = await admin.post(
            f"/sales-processes/{process.id}",
            data=_form(token, "Vermietung", moved) | {"phase_remove": [str(second.id)]},
        )
    assert refused.status_code == 409 and "wird noch von 1 Lead(s) verwendet" in refused.text
    process = await _process(sessions, "Vermietung")
    assert _phases(process) == [("Besichtigung", 2 * 86400), ("Erster Kontakt", 7 * 86400)]
    assert {p.id for p in process.phases} == {first.id, second.id}


async def test_bad_input_is_shown_again_with_the_reason(settings: Settings, admin_id: int) -> None:
    async with app_client(settings, auth=None) as admin:
        token = await login(admin, ADMIN, PASSWORD)
        no_phase = await admin.post("/sales-processes/new", data=_form(token, "Leer", []))
        no_name = await admin.post("/sales-processes/new", data=_form(token, "", [("", "Eins", "1", "days")]))
        bad_number = await admin.post("/sales-processes/new", data=_form(token, "X", [("", "Eins", "drei", "days")]))
        bad_unit = await admin.post("/sales-processes/new", data=_form(token, "X", [("", "Eins", "3", "years")]))
        reminders = await admin.post(
            "/sales-processes/new", data=_form(token, "Y", [("", "Eins", "", "days")], reminders_enabled="on")
        )
        twice = [await admin.post("/sales-processes/new", data=_form(token, "Z", [("", "A", "1", "days")]))]
        twice.append(await admin.post("/sales-processes/new", data=_form(token, "Z", [("", "A", "1", "days")])))
    assert no_phase.status_code == 422 and "mindestens eine Phase" in no_phase.text
    assert no_name.status_code == 422 and "Name" in no_name.text
    assert bad_number.status_code == 422 and "ganze Zahl" in bad_number.text and 'value="drei"' in bad_number.text
    assert bad_unit.status_code == 422
    assert reminders.status_code == 422 and "Phasendauer" in reminders.text
    assert [r.status_code for r in twice] == [303, 409] and "existiert bereits" in twice[1].text


async def test_agents_cannot_open_the_editor(settings: Settings, admin_id: int) -> None:
    async with app_client(settings, auth=None) as agent:
        token = await login(agent, AGENT, PASSWORD)
        page = await agent.get("/sales-processes")
        post = await agent.post("/sales-processes/new", data=_form(token, "Heimlich", [("", "A", "1", "days")]))
    assert page.status_code == 403 and post.status_code == 403


async def test_an_unknown_process_is_a_404(settings: Settings, admin_id: int) -> None:
    async with app_client(settings, auth=None) as admin:
        await login(admin, ADMIN, PASSWORD)
        response = await admin.get("/sales-processes/999999")
    assert response.status_code == 404 and "gibt es nicht" in response.text
