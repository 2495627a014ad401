"""The one way tests talk HTTP to the app: the real app, its lifespan entered as uvicorn would.

Every API/page test goes through `app_client`, so cross-cutting concerns (authentication, CSRF) are
handled in one place: by default the client sends `Authorization: Bearer <TEST_API_TOKEN>` (the app is
built with that IMMOFLOW_API_TOKEN), which the office routes accept and which needs no CSRF token.
Tests of the login itself use `auth=None` and `login()`, which behaves like a browser: session cookie,
CSRF token from the page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from temporalio.client import Client

from settings import Settings
from web.app import create_app

TEST_API_TOKEN = "test-api-token"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


@asynccontextmanager
async def app_client(
    settings: Settings, client: Client | None = None, *, auth: Literal["token"] | None = "token"
) -> AsyncIterator[AsyncClient]:
    """AUTH "token": authenticated as an API client (the app gets TEST_API_TOKEN unless SETTINGS name one);
    None: an anonymous browser with SETTINGS as they are (see `login`)."""
    headers = {}
    if auth == "token":
        if settings.api_token is None:
            settings = settings.model_copy(update={"api_token": SecretStr(TEST_API_TOKEN)})
        assert settings.api_token is not None
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    app = create_app(settings, client=client)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver", headers=headers) as http,
    ):
        yield http


def csrf_from(html: str) -> str:
    """The CSRF token a page carries (hidden field or the meta tag of base.html)."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


async def login(http: AsyncClient, email: str, password: str) -> str:
    """Log in through the form as a browser does; returns the session's CSRF token for later posts."""
    page = await http.get("/login")
    response = await http.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text), "next": ""}
    )
    assert response.status_code == 303, response.text
    return csrf_from((await http.get("/dashboard")).text)
