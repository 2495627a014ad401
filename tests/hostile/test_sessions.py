"""Issue 17.2: sessions live on the server; logout, password change and deactivation end them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

import starter.cli
from db.models import User, WebSession
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from starter.cli import sessions as cli_sessions
from tests.hostile.security_support import EMAIL, PASSWORD, office_user, served
from tests.http import csrf_from, login
from web.security.sessions import end_user_sessions

pytestmark = pytest.mark.one_backend

CONTACT = {"first_name": "Nina", "last_name": "Neu", "email": "nina@example.com"}


async def test_a_replayed_cookie_is_worthless_after_logout(settings: Settings, sessions: SessionFactory) -> None:
    await office_user(sessions)
    async with served(settings) as (http, _):
        token = await login(http, EMAIL, PASSWORD)
        stolen = dict(http.cookies)
        assert (await http.post("/api/contacts", json=CONTACT, headers={"X-CSRF-Token": token})).status_code == 201
        assert (await http.post("/logout", data={"csrf_token": token})).status_code == 303
        http.cookies.clear()
        http.cookies.update(stolen)  # the attacker replays the cookie captured before the logout
        assert (await http.get("/dashboard")).status_code == 303
        replay = await http.post("/api/contacts", json=CONTACT, headers={"X-CSRF-Token": token})
        assert replay.status_code in (401, 403)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WebSession)) == 0


async def test_idle_and_absolute_lifetimes_end_a_session(settings: Settings, sessions: SessionFactory) -> None:
    await office_user(sessions)
    async with served(settings) as (http, _):
        await login(http, EMAIL, PASSWORD)
        async with sessions.begin() as session:
            row = await session.scalar(select(WebSession))
            assert row is not None
            # Active a minute ago, but logged in longer ago than the absolute limit: over.
            row.created_at -= timedelta(hours=settings.session_absolute_hours + 1)
            row.expires_at = row.created_at + timedelta(hours=settings.session_absolute_hours)
        assert (await http.get("/dashboard")).status_code == 303
        await login(http, EMAIL, PASSWORD)
        async with sessions.begin() as session:
            row = await session.scalar(select(WebSession))
            assert row is not None
            row.last_seen_at -= timedelta(minutes=settings.session_idle_minutes + 1)
        assert (await http.get("/dashboard")).status_code == 303


async def test_the_user_sees_their_sessions_and_ends_the_others(settings: Settings, sessions: SessionFactory) -> None:
    await office_user(sessions)
    async with served(settings) as (laptop, _), served(settings, client="198.51.100.7") as (phone, _):
        await login(phone, EMAIL, PASSWORD)
        await login(laptop, EMAIL, PASSWORD)
        page = await laptop.get("/account/sessions")
        assert page.status_code == 200
        assert "198.51.100.7" in page.text and "diese Sitzung" in page.text
        ended = await laptop.post("/account/sessions/end-others", data={"csrf_token": csrf_from(page.text)})
        assert ended.status_code == 303
        assert (await phone.get("/dashboard")).status_code == 303
        assert (await laptop.get("/dashboard")).status_code == 200
        page = await laptop.get("/account/sessions")
        await laptop.post("/account/sessions/end-all", data={"csrf_token": csrf_from(page.text)})
        assert (await laptop.get("/dashboard")).status_code == 303


async def test_password_change_and_deactivation_end_sessions(settings: Settings, sessions: SessionFactory) -> None:
    user = await office_user(sessions)
    async with served(settings) as (http, _):
        await login(http, EMAIL, PASSWORD)
        async with sessions.begin() as session:
            await session.execute(update(User).values(password_hash=hash_password("neu-und-lang")))
        assert (await http.get("/dashboard")).status_code == 303
        await login(http, EMAIL, "neu-und-lang")
        # What the deactivation of a user calls (the users feature wires it to its admin page).
        assert await end_user_sessions(sessions, user.id) == 1
        assert (await http.get("/dashboard")).status_code == 303


async def test_ops_can_end_a_users_sessions_from_the_command_line(
    settings: Settings, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await office_user(sessions)
    async with served(settings) as (http, _):
        await login(http, EMAIL, PASSWORD)
        monkeypatch.setattr(cli_sessions, "get_settings", lambda: settings)
        starter.cli._register_groups()
        result = await asyncio.to_thread(CliRunner().invoke, starter.cli.app, ["sessions", "end", EMAIL.upper()])
        assert result.exit_code == 0 and "1 session(s)" in result.output, result.output
        assert (await http.get("/dashboard")).status_code == 303
        unknown = await asyncio.to_thread(CliRunner().invoke, starter.cli.app, ["sessions", "end", "x@y.example"])
        assert unknown.exit_code == 1
