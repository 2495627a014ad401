"""Open SMTP sessions a worker reuses from one mail to the next (issue 19).

A fresh session per mail costs a TCP connect, the banner, EHLO, in production TLS and AUTH, and QUIT: more
round trips than the mail itself (MAIL, RCPT, DATA), and a thread for the client's own host-name lookup. The
pool keeps up to `size` sessions; a mail borrows one for its whole conversation, so at most `size` mails talk
to the server at once (a provider's limit on parallel connections is respected by the setting).

A session is reused only when it answers NOOP: a server that hung up while the session sat idle (its idle
timeout, a limit on mails per connection) costs one round trip and a fresh session, never a failed mail.
After any error the session's state is unknown, so it is closed instead of returned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypedDict

import aiosmtplib

from settings import Settings

# Servers close idle sessions after a few minutes (RFC 5321 asks for 5 minutes at least); an older one is not
# even tried.
MAX_IDLE_SECONDS = 60.0


class SmtpOptions(TypedDict):
    hostname: str | None
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    timeout: float


def smtp_options(settings: Settings, hostname: str | None = None) -> SmtpOptions:
    """How to reach the configured SMTP server: for `aiosmtplib.SMTP(...)` and `aiosmtplib.send(...)` alike."""
    return SmtpOptions(
        hostname=hostname or settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        timeout=settings.smtp_timeout_seconds,
    )


class SmtpConnectionPool:
    def __init__(
        self,
        open_session: Callable[[], Awaitable[aiosmtplib.SMTP]],
        size: int,
        max_idle_seconds: float = MAX_IDLE_SECONDS,
    ) -> None:
        if size < 1:
            raise ValueError("an SMTP pool needs at least one session")
        self._open_session = open_session
        self._size = size
        self._max_idle = max_idle_seconds
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._slots = asyncio.Semaphore(size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.opened = 0  # sessions opened so far: what a test or the benchmark reads to see reuse

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[aiosmtplib.SMTP]:
        """An open session for one mail's conversation; back to the pool when the mail went through."""
        self._bind_to_running_loop()
        async with self._slots:
            smtp = await self._take()
            try:
                yield smtp
            except BaseException:
                smtp.close()
                raise
            self._idle.append((smtp, asyncio.get_running_loop().time()))

    def _bind_to_running_loop(self) -> None:
        # Sessions belong to the event loop that opened them; a new loop (tests, a restarted worker) starts over.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._idle = []
            self._slots = asyncio.Semaphore(self._size)

    async def _take(self) -> aiosmtplib.SMTP:
        now = asyncio.get_running_loop().time()
        while self._idle:
            smtp, since = self._idle.pop()  # the most recently used first: the likeliest to be alive
            if now - since > self._max_idle or not smtp.is_connected:
                smtp.close()
                continue
            try:
                await smtp.noop()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
                continue
            except BaseException:
                smtp.close()
                raise
            return smtp
        smtp = await self._open_session()
        self.opened += 1
        return smtp
