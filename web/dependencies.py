"""What request handlers need (settings, database, Temporal), built once per app and injected."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from starter.services.context import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
