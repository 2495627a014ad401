"""What the secure-by-default tests share: the real app in-process with its middleware, a user to log in as."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr

from db.models import User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from web.app import create_app

EMAIL, PASSWORD = "anna@office.example", "richtig-geheim"
STRONG_SECRET = "Zq3vN8xK1pW7rT5yB2mC9dF4gH6jL0sA-strong-and-random"
STRONG_TOKEN = "7f3c9a1e5b2d8f4a6c0e9b3d7a1f5c2e"


def production(settings: Settings, **changes: Any) -> Settings:
    """SETTINGS as a production setup that passes every check (CHANGES then weaken it)."""
    values: dict[str, Any] = {
        "env": "production",
        "secret_key": SecretStr(STRONG_SECRET),
        "public_base_url": "https://makler.example",
        "intake_token": SecretStr(STRONG_TOKEN),
        "ops_token": SecretStr(STRONG_TOKEN[::-1]),
    }
    return settings.model_copy(update={**values, **changes})


async def office_user(sessions: SessionFactory, email: str = EMAIL, password: str = PASSWORD) -> User:
    async with sessions.begin() as session:
        row = User(email=email, name="Anna Agent", password_hash=hash_password(password))
        session.add(row)
    return row


@asynccontextmanager
async def served(settings: Settings, *, client: str = "127.0.0.1") -> AsyncIterator[tuple[AsyncClient, FastAPI]]:
    """The app as uvicorn would run it (lifespan entered); requests come from CLIENT's address."""
    app = create_app(settings)
    transport = ASGITransport(app=app, client=(client, 50000))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http, app
