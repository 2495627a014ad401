"""GET /healthz: database, Temporal and SMTP reachability as JSON; 503 when one is down.

The internet (load balancers, uptime checks) learns only ok / down. The checks with their errors name
internal hosts and ports, so they are shown only with `Authorization: Bearer <IMMOFLOW_OPS_TOKEN>`, or in
development.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from db.base import utcnow
from db.models import Mailbox
from starter.services.attention import needs_attention
from starter.services.context import Services
from web.dependencies import ServicesDep
from web.security.ops import ops_authorised

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
async def healthz(request: Request, services: ServicesDep) -> JSONResponse:
    results = dict(
        zip(
            ("database", "temporal", "smtp"),
            await asyncio.gather(_check(_database(services)), _check(_temporal(services)), _check(_smtp(services))),
            strict=True,
        )
    )
    healthy = all(not value.startswith("down") for value in results.values())
    status_code = 200 if healthy else 503
    if not (services.settings.is_development or ops_authorised(request, services.settings)):
        return JSONResponse({"status": "ok" if healthy else "down"}, status_code=status_code)
    details: dict[str, object] = {"status": "ok" if healthy else "degraded", **results}
    try:  # reported, not judged: a stuck workflow is work for the office, not an outage of this process
        attention = await needs_attention(services.sessions, services.temporal)
        details["needs_attention"] = {
            "total": attention.total,
            "failing_workflow_tasks": attention.failing_workflow_tasks,
            "retrying_deliveries": attention.retrying_deliveries,
        }
    except Exception as exc:
        details["needs_attention"] = f"unknown: {type(exc).__name__}"
    # Listed, but not part of the verdict: a portal's mail server being down is no reason to stop serving.
    if results["database"] == "ok":
        try:
            mailboxes = await asyncio.wait_for(_mailboxes(services), CHECK_TIMEOUT)
        except Exception as exc:
            mailboxes = {"*": f"down: {type(exc).__name__}"}
        if mailboxes:
            details["mailboxes"] = mailboxes
    return JSONResponse(details, status_code=status_code)
