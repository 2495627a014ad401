"""Reachability checks for /healthz and the domain numbers for /metrics: each probe one use case.

The probes raise whatever the dependency raises; the caller (web.api.health) bounds them in time and
reports the error as text, so a failing probe never fails the health endpoint itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import select, text

from db.base import utcnow
from db.models import Mailbox
from starter.ops.metrics import domain_registry
from starter.services.context import Services

# A watcher reports back at least every round (two minutes); beyond this it has lost touch.
MAILBOX_STALE = timedelta(minutes=10)


async def check_database(services: Services) -> str:
    """The database answers a trivial query."""
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return "ok"


async def check_temporal(services: Services) -> str:
    """The Temporal frontend answers its health check (connecting first if this process has not yet)."""
    client = await services.temporal()
    await client.service_client.check_health()
    return "ok"


async def check_smtp(services: Services) -> str:
    """The SMTP server accepts a TCP connection; "not configured" when no host is set."""
    host, port = services.settings.smtp_host, services.settings.smtp_port
    if host is None:
        return "not configured"
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    await writer.wait_closed()
    return "ok"


@dataclass(frozen=True)
class MailboxContact:
    address: str
    last_contact_at: datetime | None
    last_error: str | None


def mailbox_state(mailbox: MailboxContact, now: datetime) -> str:
    """One enabled mailbox as its watcher last reported it: ok, down, stale or still waiting."""
    if mailbox.last_error:
        return f"down: {mailbox.last_error}"[:300]
    if mailbox.last_contact_at is None:
        return "waiting for the first contact"
    if now - mailbox.last_contact_at > MAILBOX_STALE:
        return f"stale: last contact {mailbox.last_contact_at:%Y-%m-%d %H:%M} UTC"
    return "ok"


async def mailbox_health(services: Services) -> dict[str, str]:
    """Each enabled mailbox as its watcher last saw it: the worker talks IMAP, not every health probe."""
    async with services.sessions() as session:
        rows = (
            await session.execute(
                select(Mailbox.address, Mailbox.last_contact_at, Mailbox.last_error).where(
                    Mailbox.enabled.is_(True), Mailbox.imap_host.is_not(None)
                )
            )
        ).all()
    now = utcnow()
    return {address: mailbox_state(MailboxContact(address, contact, error), now) for address, contact, error in rows}


async def domain_metrics(services: Services) -> CollectorRegistry:
    """The office's numbers from the database (inquiries, outbox, events) as a Prometheus registry."""
    return await domain_registry(services.sessions)
