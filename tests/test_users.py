"""Users and roles: admins configure, agents work; invitations and resets by signed, expiring, one-time links."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from db.migrate import upgrade_sync
from db.models import DomainEvent, Message, User
from db.session import SessionFactory
from domain.links import LinkError
from domain.passwords import hash_password, verify_password
from settings import Settings
from starter.services import users as user_service
from starter.services.users import PASSWORD_LINK_VALIDITY
from tests.http import app_client, csrf_from, login

ADMIN, AGENT, PASSWORD = "chefin@office.example", "makler@office.example", "richtig-geheim"
ADMIN_PAGES = [
    "/settings/inquiry-manager",
    "/settings/templates",
    "/settings/time-slots",
    "/automations",
    "/users",
    "/users/new",
    "/sales-processes",
]
ADMIN_APIS = ["/api/settings/inquiry-manager", "/api/automations", "/api/users", "/api/settings/time-slots"]
AGENT_PAGES = ["/dashboard", "/leads", "/slot-requests", "/tasks", "/appointments"]
LINK = re.compile(r"http://testserver(/set-password/[A-Za-z0-9_.\-]+)")


@pytest.fixture
async def team(sessions: SessionFactory) -> dict[str, int]:
    async with sessions.begin() as session:
        admin = User(email=ADMIN, name="Clara Chefin", password_hash=hash_password(PASSWORD), role="admin")
        agent = User(email=AGENT, name="Max Makler", password_hash=hash_password(PASSWORD), role="agent")
        session.add_all([admin, agent])
        await session.flush()
        return {"admin": admin.id, "agent": agent.id}


async def _mail_link(sessions: SessionFactory, user_id: int) -> str:
    async with sessions() as session:
        message = await session.scalar(
            select(Message).where(Message.user_id == user_id).order_by(Message.id.desc()).limit(1)
        )
    assert message is not None
    match = LINK.search(message.body_text)
    assert match, message.body_text
    return match.group(1)


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_agents_get_a_readable_403_on_admin_pages_and_admins_get_the_page(
    settings: Settings, team: dict[str, int], path: str
) -> None:
    async with app_client(settings, auth=None) as agent, app_client(settings, auth=None) as admin:
        await login(agent, AGENT, PASSWORD)
        await login(admin, ADMIN, PASSWORD)
        refused = await agent.get(path)
        allowed = await admin.get(path)
    assert refused.status_code == 403
    assert "Keine Berechtigung" in refused.text and "Admins vorbehalten" in refused.text
    assert "Traceback" not in refused.text
    assert allowed.status_code == 200


@pytest.mark.parametrize("path", ADMIN_APIS)
async def test_admin_apis_refuse_agents_with_403_json(settings: Settings, team: dict[str, int], path: str) -> None:
    async with app_client(settings, auth=None) as agent, app_client(settings, auth=None) as admin:
        await login(agent, AGENT, PASSWORD)
        await login(admin, ADMIN, PASSWORD)
        refused = await agent.get(path)
        allowed = await admin.get(path)
    assert refused.status_code == 403 and refused.json()["detail"] == "Nur Admins dürfen das (Rolle admin)."
    assert allowed.status_code == 200


async def test_agents_cannot_change_settings_or_processes_through_the_api(
    settings: Settings, team: dict[str, int]
) -> None:
    process = {"name": "Verkauf", "phases": [{"name": "Erstkontakt", "duration": {"value": 3, "unit": "days"}}]}
    async with app_client(settings, auth=None) as agent:
        token = await login(agent, AGENT, PASSWORD)
        headers = {"X-CSRF-Token": token}
        put = await agent.put("/api/settings/inquiry-manager", json={"followup_attempts": 9}, headers=headers)
        post = await agent.post("/api/sales-processes", json=process, headers=headers)
        listed = await agent.get("/api/sales-processes")
    assert put.status_code == 403 and post.status_code == 403
    assert listed.status_code == 200 and listed.json() == []


@pytest.mark.parametrize("path", AGENT_PAGES)
async def test_agents_keep_their_own_work_pages(settings: Settings, team: dict[str, int], path: str) -> None:
    async with app_client(settings, auth=None) as agent:
        await login(agent, AGENT, PASSWORD)
        response = await agent.get(path)
    assert response.status_code == 200


async def test_the_menu_shows_admin_entries_to_admins_only(settings: Settings, team: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as agent, app_client(settings, auth=None) as admin:
        await login(agent, AGENT, PASSWORD)
        await login(admin, ADMIN, PASSWORD)
        agent_page = (await agent.get("/tasks")).text
        admin_page = (await admin.get("/tasks")).text
    for link in ('href="/users"', 'href="/settings/templates"', 'href="/automations"', 'href="/sales-processes"'):
        assert link in admin_page
        assert link not in agent_page
    for link in ('href="/tasks"', 'href="/appointments"', 'href="/leads"'):
        assert link in agent_page


async def test_an_invited_user_sets_a_password_once_and_logs_in(
    settings: Settings, sessions: SessionFactory, team: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as admin:
        token = await login(admin, ADMIN, PASSWORD)
        form = {
            "csrf_token": token,
            "name": "Nina Neu",
            "email": "Nina.Neu@Office.example",
            "mobile": "+49 170 1234567",
            "sms_allowed": "on",
            "sms_billing_account": "SMS-7",
            "role": "agent",
            "send_link": "on",
        }
        created = await admin.post("/users/new", data=form)
        assert created.status_code == 303
        page = await admin.get(created.headers["location"])
        assert "nina.neu@office.example" in page.text
    async with sessions() as session:
        nina = await session.scalar(select(User).where(User.email == "nina.neu@office.example"))
        assert nina is not None and nina.password_hash is None
        assert (nina.mobile, nina.sms_allowed, nina.sms_billing_account, nina.role) == (
            "+49 170 1234567",
            True,
            "SMS-7",
            "agent",
        )
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "user.password_link")))
        assert [event.payload["user_id"] for event in events] == [nina.id]
    link = await _mail_link(sessions, nina.id)
    async with app_client(settings, auth=None) as browser:
        form_page = await browser.get(link)
        assert form_page.status_code == 200 and "Passwort festlegen" in form_page.text
        short = await browser.post(link, data={"password": "kurz", "repeated": "kurz"})
        assert short.status_code == 422 and "mindestens 10 Zeichen" in short.text
        differs = await browser.post(link, data={"password": "ein-langes-passwort", "repeated": "ein-anderes-pw"})
        assert differs.status_code == 422 and "stimmen nicht überein" in differs.text
        done = await browser.post(link, data={"password": "ein-langes-passwort", "repeated": "ein-langes-passwort"})
        assert done.status_code == 303 and done.headers["location"] == "/login"
        again = await browser.get(link)
        assert again.status_code == 410 and "schon benutzt" in again.text
        await login(browser, "nina.neu@office.example", "ein-langes-passwort")
        assert (await browser.get("/tasks")).status_code == 200


async def test_a_newer_link_replaces_the_older_one_and_links_expire(
    settings: Settings, sessions: SessionFactory, team: dict[str, int]
) -> None:
    async with app_client(settings) as api:
        made = await api.post("/api/users", json={"name": "Olaf Alt", "email": "olaf@office.example"})
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        first = await _mail_link(sessions, user_id)
        assert (await api.post(f"/api/users/{user_id}/password-link")).status_code == 202
        second = await _mail_link(sessions, user_id)
    assert first != second
    async with app_client(settings, auth=None) as browser:
        assert (await browser.get(first)).status_code == 410
        assert (await browser.get(second)).status_code == 200
        forged = second[:-3] + ("aaa" if not second.endswith("aaa") else "bbb")
        assert (await browser.get(forged)).status_code == 404
    token = second.removeprefix("/set-password/")
    later = time.time() + PASSWORD_LINK_VALIDITY.total_seconds() + 60
    async with sessions() as session:
        with pytest.raises(LinkError) as expired:
            await user_service.user_for_link(session, token, settings, now=later)
    assert expired.value.code == "expired"


async def test_deactivation_ends_the_login_and_keeps_the_history(
    settings: Settings, sessions: SessionFactory, team: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as agent, app_client(settings, auth=None) as admin:
        await login(agent, AGENT, PASSWORD)
        assert (await agent.get("/tasks")).status_code == 200
        token = await login(admin, ADMIN, PASSWORD)
        response = await admin.post(f"/users/{team['agent']}/deactivate", data={"csrf_token": token})
        assert response.status_code == 303
        after = await agent.get("/tasks")
        assert after.status_code == 303 and after.headers["location"].startswith("/login")
        page = await agent.get("/login")
        refused = await agent.post(
            "/login", data={"email": AGENT, "password": PASSWORD, "csrf_token": csrf_from(page.text), "next": ""}
        )
        assert refused.status_code == 401
        listing = await admin.get("/users")
        assert "Max Makler" in listing.text and "deaktiviert seit" in listing.text
    async with sessions() as session:
        row = await session.get(User, team["agent"])
        assert row is not None and not row.is_active and row.deactivated_at is not None
        assert row.password_hash is not None  # the history and the record stay; only the login ends


async def test_an_admin_cannot_lock_the_office_out(settings: Settings, team: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as admin:
        token = await login(admin, ADMIN, PASSWORD)
        himself = await admin.post(f"/users/{team['admin']}/deactivate", data={"csrf_token": token})
        assert himself.status_code == 303
        page = await admin.get(himself.headers["location"])
        assert "nicht selbst deaktivieren" in page.text
        demote = await admin.post(
            f"/users/{team['admin']}",
            data={"csrf_token": token, "name": "Clara Chefin", "email": ADMIN, "role": "agent"},
        )
        assert demote.status_code == 409 and "letzte aktive Admin" in demote.text
    async with app_client(settings) as api:
        assert (await api.post(f"/api/users/{team['admin']}/deactivate")).status_code == 409


async def test_reset_ends_the_password_and_open_sessions(
    settings: Settings, sessions: SessionFactory, team: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as agent, app_client(settings, auth=None) as admin:
        await login(agent, AGENT, PASSWORD)
        token = await login(admin, ADMIN, PASSWORD)
        assert (await admin.post(f"/users/{team['agent']}/reset", data={"csrf_token": token})).status_code == 303
        assert (await agent.get("/tasks")).status_code == 303
    link = await _mail_link(sessions, team["agent"])
    async with sessions() as session:
        message = await session.scalar(select(Message).where(Message.user_id == team["agent"]))
        assert message is not None and message.subject == "Neues Passwort für immoflow"
        row = await session.get(User, team["agent"])
        assert row is not None and row.password_hash is None
    async with app_client(settings, auth=None) as browser:
        done = await browser.post(link, data={"password": "neues-passwort-1", "repeated": "neues-passwort-1"})
        assert done.status_code == 303
        await login(browser, AGENT, "neues-passwort-1")


async def test_the_user_form_refuses_bad_input_with_a_reason(settings: Settings, team: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as admin:
        token = await login(admin, ADMIN, PASSWORD)
        bad_email = await admin.post("/users/new", data={"csrf_token": token, "name": "X", "email": "kein-at"})
        taken = await admin.post("/users/new", data={"csrf_token": token, "name": "X", "email": AGENT.upper()})
        bad_role = await admin.post(
            "/users/new", data={"csrf_token": token, "name": "X", "email": "x@office.example", "role": "root"}
        )
    assert bad_email.status_code == 422 and "E-Mail-Adresse: keine gültige E-Mail-Adresse" in bad_email.text
    assert taken.status_code == 409 and "schon einen Benutzer" in taken.text
    assert bad_role.status_code == 422 and "Rolle" in bad_role.text


async def test_the_users_api_lists_creates_and_updates(settings: Settings, team: dict[str, int]) -> None:
    async with app_client(settings) as api:
        made = await api.post(
            "/api/users", json={"name": "Ida Admin", "email": "ida@office.example", "role": "admin", "send_link": False}
        )
        assert made.status_code == 201 and made.json()["role"] == "admin" and not made.json()["has_password"]
        user_id = made.json()["id"]
        changed = await api.put(
            f"/api/users/{user_id}", json={"name": "Ida Agentin", "email": "ida@office.example", "role": "agent"}
        )
        assert changed.status_code == 200 and changed.json()["role"] == "agent"
        names = [user["name"] for user in (await api.get("/api/users")).json()]
        assert names == ["Clara Chefin", "Ida Agentin", "Max Makler"]
        assert (await api.get("/api/users/999999")).status_code == 404
        clash = await api.post("/api/users", json={"name": "Doppelt", "email": AGENT})
        assert clash.status_code == 409


def test_admin_create_makes_the_first_admin_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'office.db'}"
    upgrade_sync(url, "head")
    env = {**os.environ, "IMMOFLOW_DATABASE_URL": url, "IMMOFLOW_DATA_DIR": str(tmp_path), "IMMOFLOW_ENV": "test"}
    command = [sys.executable, "-m", "starter.cli", "admin", "create", "--email", "Erste@Office.example"]
    command += ["--name", "Erste Admin", "--password-stdin"]
    root = Path(__file__).resolve().parents[1]
    weak = subprocess.run(command, input="kurz\n", env=env, cwd=root, capture_output=True, text=True, timeout=60)
    made = subprocess.run(
        command, input="ein-gutes-passwort\n", env=env, cwd=root, capture_output=True, text=True, timeout=60
    )
    twice = subprocess.run(
        command, input="ein-gutes-passwort\n", env=env, cwd=root, capture_output=True, text=True, timeout=60
    )
    assert weak.returncode == 1 and "mindestens 10 Zeichen" in weak.stderr
    assert made.returncode == 0, made.stderr
    assert twice.returncode == 1 and "schon einen Benutzer" in twice.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "office.db") as db:
        rows = db.execute("SELECT email, role, password_hash FROM users").fetchall()
    assert [(email, role) for email, role, _ in rows] == [("erste@office.example", "admin")]
    assert verify_password("ein-gutes-passwort", rows[0][2])


async def test_the_api_token_keeps_full_rights(settings: Settings) -> None:
    async with app_client(settings) as api:
        assert (await api.get("/api/users")).status_code == 200
        assert (await api.get("/api/automations")).status_code == 200


async def test_unknown_users_are_a_404_page(settings: Settings, team: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as admin:
        await login(admin, ADMIN, PASSWORD)
        response = await admin.get("/users/999999")
    assert response.status_code == 404 and "gibt es nicht" in response.text


def test_the_migration_keeps_everyone_who_could_log_in_an_admin(tmp_path: Path) -> None:
    """Before roles every login could change everything: upgrading must not lock an office out of its settings."""
    import sqlite3

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade_sync(url, "0003_automations")
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("INSERT INTO users (email, name, password_hash) VALUES ('a@x.example', 'A', 'scrypt$x')")
        db.execute("INSERT INTO users (email, name) VALUES ('b@x.example', 'B')")
    upgrade_sync(url, "users")
    with sqlite3.connect(tmp_path / "old.db") as db:
        roles = dict(db.execute("SELECT email, role FROM users").fetchall())
    assert roles == {"a@x.example": "admin", "b@x.example": "agent"}
