"""GET /healthz: database, Temporal and SMTP reachability as JSON; 503 when one is down."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from db.base import utcnow
from db.models import Mailbox
from starter.web.services import Services, ServicesDep

router = APIRouter(tags=["ops"])
CHECK_TIMEOUT = 3.0


async def _database(services: Services) -> str:
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return "ok"


async def _temporal(services: Services) -> str:
    client = await services.temporal()
    await client.service_client.check_health()
    return "ok"


async def _smtp(services: Services) -> str:
    host, port = services.settings.smtp_host, services.settings.smtp_port
    if host is None:
        return "not configured"
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    await writer.wait_closed()
    return "ok"


async def _check(probe: object) -> str:
    try:
        return await asyncio.wait_for(probe, CHECK_TIMEOUT)  # type: ignore[arg-type]
    except Exception as exc:
        return f"down: {type(exc).__name__}: {exc}"[:300]


# A watcher reports back at least every round (two minutes); beyond this it has lost touch.
MAILBOX_STALE = timedelta(minutes=10)


async def _mailboxes(services: Services) -> dict[str, str]:
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
    result: dict[str, str] = {}
    for address, contact, error in rows:
        if error:
            result[address] = f"down: {error}"[:300]
        elif contact is None:
            result[address] = "waiting for the first contact"
        elif now - contact > MAILBOX_STALE:
            result[address] = f"stale: last contact {contact:%Y-%m-%d %H:%M} UTC"
        else:
            result[address] = "ok"
    return result


@router.get("/healthz")
async def healthz(services: ServicesDep) -> JSONResponse:
    results = dict(
        zip(
            ("database", "temporal", "smtp"),
            await asyncio.gather(_check(_database(services)), _check(_temporal(services)), _check(_smtp(services))),
            strict=True,
        )
    )
    healthy = all(not value.startswith("down") for value in results.values())
    body: dict[str, object] = {"status": "ok" if healthy else "degraded", **results}
    # Listed, but not part of the verdict: a portal's mail server being down is no reason to stop serving.
    if results["database"] == "ok":
        try:
            mailboxes = await asyncio.wait_for(_mailboxes(services), CHECK_TIMEOUT)
        except Exception as exc:
            mailboxes = {"*": f"down: {type(exc).__name__}"}
        if mailboxes:
            body["mailboxes"] = mailboxes
    return JSONResponse(body, status_code=200 if healthy else 503)
