"""Server-side office sessions and the shared counters of rate limits and login throttles.

Both live in the database so that every web replica sees the same sessions and counts the same requests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class WebSession(CreatedAtMixin, Base):
    """One login of one user: the cookie carries a random token, only its SHA-256 is stored here."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A fingerprint of the password hash at login: a changed password ends the session even where
    # nobody called end_user_sessions().
    auth_fingerprint: Mapped[str] = mapped_column(String(16))
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True, comment="absolute end, however active")
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class RateCounter(Base):
    """Requests of one key (limit + client) in one fixed window starting at WINDOW_START (epoch seconds)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires: Mapped[int] = mapped_column(Integer, index=True, comment="epoch seconds after which it can go")


class LoginFailure(Base):
    """Consecutive failed logins of one key ((account, client) or client): the delay grows with FAILURES."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(index=True)
