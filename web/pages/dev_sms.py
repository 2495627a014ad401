"""/dev/sms: the SMS the development sink recorded (`<data dir>/sms/*.json`), beside /dev/mail.

Development only: every route answers 404 unless IMMOFLOW_ENV=development. SMS texts carry prospects' names
and are rendered autoescaped.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from messaging.sms import read_sms
from web.dependencies import ServicesDep
from web.templating import templates


def _development_only(services: ServicesDep) -> None:
    if not services.settings.is_development:
        raise HTTPException(status_code=404)


router = APIRouter(prefix="/dev/sms", tags=["dev"], include_in_schema=False, dependencies=[Depends(_development_only)])


def _with_time(record: dict[str, Any]) -> dict[str, Any]:
    try:
        at: datetime | None = datetime.fromisoformat(str(record.get("recorded_at")))
    except ValueError:
        at = None
    return {**record, "recorded_at": at}


@router.get("", response_class=HTMLResponse, name="dev_sms_list")
async def sms_list(request: Request, services: ServicesDep) -> HTMLResponse:
    records = [_with_time(r) for r in await asyncio.to_thread(read_sms, services.settings.data_dir / "sms")]
    settings = services.settings
    context = {
        "records": records,
        "gateway": str(settings.sms_gateway_url) if settings.sms_gateway_url else None,
        "total_cents": sum(int(record.get("cost_cents") or 0) for record in records),
    }
    return templates.TemplateResponse(request, "dev_sms/list.html", context)
