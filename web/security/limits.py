"""Abuse bounds for the public endpoints: request bodies capped per endpoint, requests per client and minute.

Counted in the database (`rate_counters`, fixed one-minute windows, one atomic upsert per request), so every
web replica enforces the same budget. Which address is the client is decided before this middleware runs,
by the proxy-headers middleware and IMMOFLOW_TRUSTED_PROXIES.

- intake (POST /api/inquiries, /api/inquiries/openimmo): IMMOFLOW_INTAKE_RATE_PER_MINUTE per client;
- prospect pages (/confirm/…, /slots/…): IMMOFLOW_PROSPECT_RATE_PER_MINUTE per client, GET and POST;
- bodies: a prospect form needs a few KiB (PROSPECT_BODY_BYTES), a login less (LOGIN_BODY_BYTES). A body
  over its cap is refused with 413 before any of it is stored or parsed.

Refusals are 429 with Retry-After (German HTML for people, JSON for /api).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from db import counters
from db.session import SessionFactory
from settings import Settings
from web.security.bodies import read_capped, replaying
from web.texts import t

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
PROSPECT_BODY_BYTES = 16 * 1024  # the confirmation form is < 1 KiB, five slots and a comment < 4 KiB
LOGIN_BODY_BYTES = 8 * 1024  # email (320), password (1024), next (2000), CSRF token
PROSPECT_PREFIXES = ("/confirm/", "/slots/")
INTAKE_PATHS = frozenset({"/api/inquiries", "/api/inquiries/openimmo"})
SMALL_FORM_PATHS = frozenset({"/login", "/logout"})


@dataclass
class RateLimiter:
    sessions: SessionFactory
    clock: Callable[[], float] = field(default=time.time)

    async def retry_after(self, key: str, limit: int) -> int:
        """Counts one request of KEY; seconds until the next is allowed when this one is over LIMIT, else 0."""
        now = self.clock()
        window_start = int(now // WINDOW_SECONDS * WINDOW_SECONDS)
        window_end = window_start + WINDOW_SECONDS
        async with self.sessions.begin() as session:
            count = await counters.hit(session, key[:200], window_start, window_end)
        if count <= limit:
            return 0
        return max(1, math.ceil(window_end - now))


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _rule(settings: Settings, method: str, path: str) -> tuple[str, int] | None:
    if method == "POST" and path.rstrip("/") in INTAKE_PATHS:
        return "intake", settings.intake_rate_per_minute
    if path.startswith(PROSPECT_PREFIXES):
        return "prospect", settings.prospect_rate_per_minute
    return None


def _body_cap(method: str, path: str) -> int | None:
    if method not in ("POST", "PUT", "PATCH"):
        return None
    if path.startswith(PROSPECT_PREFIXES):
        return PROSPECT_BODY_BYTES
    if path in SMALL_FORM_PATHS:
        return LOGIN_BODY_BYTES
    return None


def _too_many(path: str, seconds: int) -> Response:
    headers = {"Retry-After": str(seconds)}
    text = t("error.rate_limited", seconds=seconds)
    if path.startswith("/api/"):
        return JSONResponse({"detail": text}, status_code=429, headers=headers)
    return _html_problem(t("error.rate_limited_title"), text, 429, headers)


def _too_large(path: str, cap: int) -> Response:
    text = t("error.too_large_cap", kib=cap // 1024)
    if path.startswith("/api/"):
        return JSONResponse({"detail": text}, status_code=413)
    return _html_problem(t("error.too_large_title"), text, 413, None)


def _html_problem(title: str, message: str, status: int, headers: dict[str, str] | None) -> Response:
    # No template here: this answers before the app (and its session) is involved, and must stay cheap.
    from markupsafe import escape

    body = (
        f'<!doctype html><html lang="de"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<link rel="stylesheet" href="/static/app.css"></head><body><main class="container">'
        f'<div class="card problem"><h1>{escape(title)}</h1><p>{escape(message)}</p></div></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers=headers)


class AbuseLimitMiddleware:
    """Pure ASGI, outside the auth middleware: a refused request costs one upsert and nothing else."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        cap = _body_cap(method, path)
        if cap is not None:
            declared = _content_length(scope)
            if declared is not None and declared > cap:
                await _too_large(path, cap)(scope, receive, send)
                return
        rule = _rule(self.settings, method, path)
        if rule is not None:
            wait = await self._retry_after(scope, f"{rule[0]}:{_client(scope)}", rule[1])
            if wait:
                await _too_many(path, wait)(scope, receive, send)
                return
        if cap is not None:
            body = await read_capped(receive, cap)
            if body is None:
                await _too_large(path, cap)(scope, receive, send)
                return
            receive = replaying(body, receive)
        await self.app(scope, receive, send)

    async def _retry_after(self, scope: Scope, key: str, limit: int) -> int:
        state = scope["app"].state
        limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
        if limiter is None:
            limiter = state.rate_limiter = RateLimiter(state.services.sessions)
        try:
            return await limiter.retry_after(key, limit)
        except DBAPIError:
            # Without the database the request fails anyway (503 from the handler); do not mask that.
            log.warning("rate limit: database unavailable, %s not counted", key.split(":")[0])
            return 0


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
