"""Two web apps on one database, as two replicas behind a load balancer: what one knows, the other must know.

Each app here is a separate `create_app` with its own state, exactly what a second process has of its own.
A login on one is a login on the other, a logout on one ends the session on both (sessions are database
rows), and failed logins count once for the office, whichever replica they reach (the throttle's counters
are database rows too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from db.models import User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests.http import app_client, csrf_from, login
from web.security.throttle import FREE_PER_ACCOUNT

pytestmark = pytest.mark.one_backend

EMAIL, PASSWORD = "anna@office.example", "richtig-geheim"


@pytest.fixture
async def user(sessions: SessionFactory) -> User:
    async with sessions.begin() as session:
        row = User(email=EMAIL, name="Anna Agent", password_hash=hash_password(PASSWORD))
        session.add(row)
    return row


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(app_client(settings, auth=None))
        second = await stack.enter_async_context(app_client(settings, auth=None))
        yield first, second


def cookies_of(client: httpx.AsyncClient) -> dict[str, str]:
    return {cookie.name: cookie.value or "" for cookie in client.cookies.jar}


async def failed_login(client: httpx.AsyncClient) -> int:
    page = await client.get("/login")
    form = {"email": EMAIL, "password": "falsch", "csrf_token": csrf_from(page.text), "next": ""}
    return (await client.post("/login", data=form)).status_code


@pytest.mark.usefixtures("user")
async def test_a_login_on_one_replica_is_a_login_on_the_other(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = replicas
    await login(first, EMAIL, PASSWORD)
    assert (await second.get("/dashboard")).status_code == 303  # a browser that never logged in
    second.cookies.update(cookies_of(first))  # the load balancer sends the next request elsewhere
    page = await second.get("/dashboard")
    assert page.status_code == 200 and "Anna Agent" in page.text
    # The CSRF token the first replica's page carried is accepted by the second one.
    token = csrf_from((await first.get("/dashboard")).text)
    response = await second.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.usefixtures("user")
async def test_a_logout_on_one_replica_ends_the_session_on_the_other(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = replicas
    token = await login(first, EMAIL, PASSWORD)
    session_cookies = cookies_of(first)
    assert (await first.post("/logout", data={"csrf_token": token})).status_code == 303
    second.cookies.update(session_cookies)  # a copy of the cookie from before the logout (stolen, cached)
    assert (await second.get("/dashboard")).status_code == 303


@pytest.mark.usefixtures("user")
async def test_failed_logins_count_across_replicas(replicas: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    first, second = replicas
    for attempt in range(FREE_PER_ACCOUNT):
        assert await failed_login(first if attempt % 2 else second) == 401  # the form again, with the error
    # The free attempts are the office's, not each process's: the next one waits, on both.
    assert await failed_login(first) == 429
    assert await failed_login(second) == 429
