"""GET /healthz: database, Temporal and SMTP reachability as JSON; 503 when one is down.

The internet (load balancers, uptime checks) learns only ok / down. The checks with their errors name
internal hosts and ports, so they are shown only with `Authorization: Bearer <IMMOFLOW_OPS_TOKEN>`, or in
development.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from starter.services.attention import office_attention
from starter.services.health import check_database, check_smtp, check_temporal, mailbox_health
from web.dependencies import ServicesDep
from web.security.ops import ops_authorised

router = APIRouter(tags=["ops"])
CHECK_TIMEOUT = 3.0


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
            await asyncio.gather(
                _check(check_database(services)), _check(check_temporal(services)), _check(check_smtp(services))
            ),
            strict=True,
        )
    )
    healthy = all(not value.startswith("down") for value in results.values())
    status_code = 200 if healthy else 503
    if not (services.settings.is_development or ops_authorised(request, services.settings)):
        return JSONResponse({"status": "ok" if healthy else "down"}, status_code=status_code)
    details: dict[str, object] = {"status": "ok" if healthy else "degraded", **results}
    try:  # reported, not judged: a stuck workflow is work for the office, not an outage of this process
        attention = await office_attention(services)
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
            mailboxes = await asyncio.wait_for(mailbox_health(services), CHECK_TIMEOUT)
        except Exception as exc:
            mailboxes = {"*": f"down: {type(exc).__name__}"}
        if mailboxes:
            details["mailboxes"] = mailboxes
    return JSONResponse(details, status_code=status_code)
