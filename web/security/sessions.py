"""Office sessions kept in the database, so that logging out (or an admin) really ends them.

The cookie (signed by Starlette's SessionMiddleware) carries a random session token next to the CSRF token;
the `web_sessions` row for its SHA-256 is what makes the bearer logged in. Without the row, a replayed cookie
is an anonymous visitor. Each session has an idle limit (last request) and an absolute one (since login),
and the row remembers a fingerprint of the password hash, so a changed password ends older sessions.
Every web replica reads the same table.

`end_user_sessions` is the one call for "this user must be logged out everywhere" (deactivation, password
change by an admin, a stolen laptop).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from db.base import utcnow
from db.models import User, WebSession
from db.session import SessionFactory
from settings import Settings

# last_seen_at is written at most this often per session: not one UPDATE per page view.
TOUCH_INTERVAL = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Lifetimes:
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
        )


@dataclass(frozen=True)
class ActiveSession:
    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str | None
    user_agent: str | None
    current: bool


async def create_session(
    sessions: SessionFactory,
    user: User,
    lifetimes: Lifetimes,
    *,
    client: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> str:
    """A new session for USER; returns the token for the cookie (only its hash is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    async with sessions.begin() as db:
        db.add(
            WebSession(
                token_hash=token_hash(token),
                user_id=user.id,
                auth_fingerprint=password_fingerprint(user.password_hash),
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetimes.absolute,
                client=(client or "")[:64] or None,
                user_agent=(user_agent or "")[:300] or None,
            )
        )
    return token


async def resolve_session(
    sessions: SessionFactory, token: str, lifetimes: Lifetimes, *, now: datetime | None = None
) -> tuple[WebSession, User] | None:
    """The live session for TOKEN and its user, or None (unknown, expired, idle, user gone or changed)."""
    now = now or utcnow()
    async with sessions.begin() as db:
        row = await db.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
        if row is None:
            return None
        user = await db.get(User, row.user_id)
        alive = (
            user is not None
            and user.is_active
            and user.password_hash is not None
            and row.auth_fingerprint == password_fingerprint(user.password_hash)
            and now < row.expires_at
            and now - row.last_seen_at < lifetimes.idle
        )
        if not alive or user is None:
            await db.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_INTERVAL:
            row.last_seen_at = now
        return row, user


async def end_session(sessions: SessionFactory, token: str) -> None:
    async with sessions.begin() as db:
        await db.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


async def end_user_sessions(sessions: SessionFactory, user_id: int, *, keep_token: str | None = None) -> int:
    """End every session of USER_ID (but KEEP_TOKEN's); returns how many ended. Call on deactivation and on
    a password change."""
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_token is not None:
        statement = statement.where(WebSession.token_hash != token_hash(keep_token))
    async with sessions.begin() as db:
        result = await db.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def active_sessions(
    sessions: SessionFactory,
    user_id: int,
    lifetimes: Lifetimes,
    *,
    current_token: str | None,
    now: datetime | None = None,
) -> list[ActiveSession]:
    now = now or utcnow()
    current = token_hash(current_token) if current_token else None
    async with sessions() as db:
        rows = await db.scalars(
            select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.last_seen_at.desc())
        )
        return [
            ActiveSession(
                id=row.id,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                expires_at=min(row.expires_at, row.last_seen_at + lifetimes.idle),
                client=row.client,
                user_agent=row.user_agent,
                current=row.token_hash == current,
            )
            for row in rows
            if now < row.expires_at and now - row.last_seen_at < lifetimes.idle
        ]


async def prune_sessions(sessions: SessionFactory, lifetimes: Lifetimes, *, now: datetime | None = None) -> int:
    now = now or utcnow()
    async with sessions.begin() as db:
        result = await db.execute(
            delete(WebSession).where((WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - lifetimes.idle))
        )
    return int(getattr(result, "rowcount", 0) or 0)
