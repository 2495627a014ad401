"""Builds the FastAPI app. Each feature is a router module; register it in ROUTERS below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from db.session import engine_from_settings, make_session_factory
from settings import Settings, get_settings
from starter.web.errors import install_error_handlers
from starter.web.services import Services
from starter.web.templating import STATIC_DIR


def routers() -> list[APIRouter]:
    # Imported here so that importing the app module stays cheap and free of cycles.
    from starter.web import (
        automations_api,
        automations_pages,
        confirm_pages,
        crm_api,
        dashboard_pages,
        dev_mail,
        dev_sms,
        health,
        inquiries_api,
        inquiry_actions,
        lead_pages,
        leads_api,
        login_pages,
        mailbox_pages,
        metrics,
        settings_api,
        settings_pages,
        slot_office_pages,
        slot_pages,
        slots_api,
        template_pages,
    )

    return [
        health.router,
        metrics.router,
        inquiries_api.router,
        leads_api.router,
        lead_pages.router,
        settings_api.router,
        confirm_pages.router,
        dev_mail.router,
        dev_sms.router,
        slots_api.router,
        slot_pages.router,
        slot_office_pages.router,
        login_pages.router,
        dashboard_pages.router,
        inquiry_actions.router,
        settings_pages.router,
        template_pages.router,
        crm_api.router,
        automations_api.router,
        automations_pages.router,
        mailbox_pages.router,
        mailbox_pages.pages,
    ]


def create_app(settings: Settings | None = None, *, client: Client | None = None) -> FastAPI:
    """CLIENT: an already connected Temporal client (tests); otherwise one is connected lazily."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = engine_from_settings(settings)
        app.state.services = Services(
            settings=settings, engine=engine, sessions=make_session_factory(engine), _client=client
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="immoflow", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    # Middleware cannot come from a router. Login/token/CSRF checks for every route (starter.web.auth);
    # metrics added last, so it is outermost and counts refused requests too.
    from starter.web.auth import install_auth
    from starter.web.metrics import install_metrics

    install_auth(app, settings)
    install_metrics(app)
    for router in routers():
        app.include_router(router)
    # CSS, the demo property's pictures; pages link them as /static/….
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
