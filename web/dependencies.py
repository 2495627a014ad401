"""What request handlers need (settings, database, Temporal), built once per app and injected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from db.base import utcnow
from starter.services.context import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def request_time() -> datetime:
    """The instant of the request (a dependency, so tests can put it on the workflow server's clock)."""
    return utcnow()


NowDep = Annotated[datetime, Depends(request_time)]
