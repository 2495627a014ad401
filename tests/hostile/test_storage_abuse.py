"""Issue 17.3: links are checked before anything is stored, bodies are capped per endpoint, intake and the
prospect pages are rate-limited per client with counters every replica shares, quarantine is pruned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from db.base import utcnow
from db.models import QuarantinedPayload, RateCounter, RawPayload, WebSession
from db.session import SessionFactory
from settings import Settings
from starter.intake.retention import prune_quarantine
from tests.hostile.security_support import office_user, served
from web.housekeeping import housekeep
from web.security.limits import PROSPECT_BODY_BYTES, RateLimiter

# A fixed instant in the middle of a rate-limit window: no test may straddle a window boundary.
NOON = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC).timestamp()


async def _stored(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RawPayload)) or 0)


async def test_a_forged_link_stores_nothing(settings: Settings, sessions: SessionFactory) -> None:
    async with served(settings) as (http, _):
        confirm = await http.post("/confirm/not-a-token", data={"first_name": "Nina", "last_name": "Neu"})
        slots = await http.post("/slots/not-a-token", data={"comment": "x" * 500})
    assert confirm.status_code == 404 and "Link ungültig" in confirm.text
    assert slots.status_code == 404
    assert await _stored(sessions) == 0


async def test_huge_prospect_forms_are_refused_before_they_are_read(
    settings: Settings, sessions: SessionFactory
) -> None:
    fields = {f"f{n}": "x" * 900_000 for n in range(7)}  # the 7 × 900 KB
    async with served(settings) as (http, _):
        for path in ("/confirm/not-a-token", "/slots/not-a-token"):
            response = await http.post(path, data=fields)
            assert response.status_code == 413, path
            assert "zu groß" in response.text

        # Chunked, without a Content-Length: refused as soon as the cap is passed.
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"first_name=" + b"x" * 1024

        streamed = await http.post(
            "/confirm/not-a-token", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert streamed.status_code == 413
        small = await http.post("/confirm/not-a-token", data={"first_name": "x" * (PROSPECT_BODY_BYTES // 2)})
        assert small.status_code == 404  # under the cap: the link decides
    assert await _stored(sessions) == 0


async def test_intake_is_rate_limited_per_client_across_replicas(settings: Settings, sessions: SessionFactory) -> None:
    limited = settings.model_copy(update={"intake_rate_per_minute": 3})
    body: dict[str, Any] = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    async with served(limited) as (one, app_one), served(limited) as (two, app_two):
        for app in (app_one, app_two):
            app.state.rate_limiter = RateLimiter(app.state.services.sessions, clock=lambda: NOON)
        answers = [(await (one if n % 2 else two).post("/api/inquiries", **body)).status_code for n in range(5)]
        assert answers == [400, 400, 400, 429, 429]  # two replicas, one budget
        refused = await one.post("/api/inquiries", **body)
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 60
        assert "Zu viele Anfragen" in refused.json()["detail"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(QuarantinedPayload)) == 3


async def test_intake_limit_counts_each_client_alone(settings: Settings) -> None:
    limited = settings.model_copy(update={"intake_rate_per_minute": 1})
    body: dict[str, Any] = {"content": b"{", "headers": {"Content-Type": "application/json"}}
    async with (
        served(limited, client="203.0.113.1") as (first, app),
        served(limited, client="203.0.113.2") as (
            second,
            app_two,
        ),
    ):
        for each in (app, app_two):
            each.state.rate_limiter = RateLimiter(each.state.services.sessions, clock=lambda: NOON)
        assert (await first.post("/api/inquiries", **body)).status_code == 400
        assert (await first.post("/api/inquiries", **body)).status_code == 429
        assert (await second.post("/api/inquiries", **body)).status_code == 400


async def test_prospect_pages_are_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(update={"prospect_rate_per_minute": 4})
    async with served(limited) as (http, app):
        app.state.rate_limiter = RateLimiter(app.state.services.sessions, clock=lambda: NOON)
        answers = [(await http.get(f"/confirm/guess-{n}")).status_code for n in range(4)]
        assert answers == [404] * 4
        refused = await http.get("/slots/guess-5")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 30  # until the end of NOON's window
    assert "Zu viele Anfragen" in refused.text


async def test_quarantine_is_pruned_after_the_retention(sessions: SessionFactory) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        for age in (40, 31, 29):
            raw = RawPayload(channel="api-json", body="{", created_at=now - timedelta(days=age))
            session.add(raw)
            await session.flush()
            session.add(QuarantinedPayload(raw_payload_id=raw.id, reason="x", created_at=raw.created_at))
    assert await prune_quarantine(sessions, now=now, retention=timedelta(days=30)) == 2
    async with sessions() as session:
        left = list(await session.scalars(select(RawPayload.created_at)))
        assert left == [now - timedelta(days=29)]
        assert await session.scalar(select(func.count()).select_from(QuarantinedPayload)) == 1


async def test_housekeeping_removes_what_has_expired(settings: Settings, sessions: SessionFactory) -> None:
    """What every web replica runs every 15 minutes: expired sessions, spent counters, old quarantine."""
    now = utcnow()
    user = await office_user(sessions)
    async with sessions.begin() as session:
        old = now - timedelta(days=settings.quarantine_retention_days + 1)
        raw = RawPayload(channel="api-json", body="{", created_at=old)
        session.add(raw)
        await session.flush()
        session.add(QuarantinedPayload(raw_payload_id=raw.id, reason="x", created_at=old))
        for n, expires_at in enumerate((now - timedelta(seconds=1), now + timedelta(hours=1))):
            session.add(
                WebSession(
                    token_hash=f"{n}" * 64,
                    user_id=user.id,
                    auth_fingerprint="f",
                    created_at=now - timedelta(hours=1),
                    last_seen_at=now - timedelta(minutes=1),
                    expires_at=expires_at,
                )
            )
        session.add(RateCounter(key="intake:x", window_start=0, count=9, expires=60))
    async with served(settings) as (_, app):
        await housekeep(app.state.services)
    async with sessions() as session:
        assert list(await session.scalars(select(WebSession.token_hash))) == ["1" * 64]
        assert await session.scalar(select(func.count()).select_from(RateCounter)) == 0
        assert await session.scalar(select(func.count()).select_from(QuarantinedPayload)) == 0
