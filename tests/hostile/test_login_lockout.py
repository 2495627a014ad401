"""Issue 17.4: a guesser cannot lock the real user out, behind the proxy or not; counts are shared."""

from __future__ import annotations

import httpx

from db.session import SessionFactory
from settings import Settings
from tests.hostile.security_support import EMAIL, PASSWORD, office_user, served
from tests.http import csrf_from
from web.security.throttle import FREE_PER_ACCOUNT


async def _attempt(http: httpx.AsyncClient, password: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    token = csrf_from((await http.get("/login", headers=headers)).text)
    data = {"email": EMAIL, "password": password, "csrf_token": token}
    return await http.post("/login", data=data, headers=headers)


async def test_a_guesser_behind_the_proxy_does_not_lock_out_the_owner(
    settings: Settings, sessions: SessionFactory
) -> None:
    await office_user(sessions)
    behind_proxy = settings.model_copy(update={"trusted_proxies": "127.0.0.1"})  # the proxy's address
    async with served(behind_proxy) as (attacker, _), served(behind_proxy) as (owner, _):
        answers = [(await _attempt(attacker, f"guess-{n}", "203.0.113.9")).status_code for n in range(10)]
        assert answers[:FREE_PER_ACCOUNT] == [401] * FREE_PER_ACCOUNT and answers[-1] == 429
        assert (await _attempt(owner, PASSWORD, "198.51.100.7")).status_code == 303


async def test_forged_forwarded_headers_from_the_internet_are_ignored(
    settings: Settings, sessions: SessionFactory
) -> None:
    await office_user(sessions)
    # No trusted proxy: the peer address is the client, whatever X-Forwarded-For claims.
    async with served(settings, client="203.0.113.9") as (attacker, _):
        for n in range(FREE_PER_ACCOUNT):
            assert (await _attempt(attacker, f"guess-{n}", f"10.0.0.{n}")).status_code == 401
        assert (await _attempt(attacker, "guess-x", "10.0.0.99")).status_code == 429


async def test_the_delay_is_shared_by_every_replica(settings: Settings, sessions: SessionFactory) -> None:
    await office_user(sessions)
    async with served(settings) as (one, _), served(settings) as (two, _):
        for n in range(FREE_PER_ACCOUNT):
            assert (await _attempt(one if n % 2 else two, f"guess-{n}")).status_code == 401
        waiting = await _attempt(one, PASSWORD)
        assert waiting.status_code == 429 and int(waiting.headers["retry-after"]) >= 1
        assert "Sekunden" in waiting.text
        assert (await _attempt(two, PASSWORD)).status_code == 429
