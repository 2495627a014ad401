"""GET /healthz: database, Temporal and SMTP reachability as JSON; 503 when one is down.

The internet (load balancers, uptime checks) learns only ok / down. The checks with their errors name
internal hosts and ports, so they are shown only with `Authorization: Bearer <IMMOFLOW_OPS_TOKEN>`, or in
development.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

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
    return JSONResponse(details, status_code=status_code)
