"""Builds the FastAPI app. Each feature is a router module; list it in routers() below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from db.session import engine_from_settings, make_session_factory
from settings import Settings, get_settings
from starter.services.context import Services
from web.errors import install_error_handlers
from web.templating import STATIC_DIR, problem_page


def routers() -> list[APIRouter]:
    # Imported here so that importing the app module (uvicorn, tests) stays cheap.
    from web.api import automations as automations_api
    from web.api import crm as crm_api
    from web.api import health, metrics
    from web.api import inquiries as inquiries_api
    from web.api import leads as leads_api
    from web.api import settings as settings_api
    from web.api import slots as slots_api
    from web.pages import automations as automations_pages
    from web.pages import confirm as confirm_pages
    from web.pages import dashboard as dashboard_pages
    from web.pages import dev_mail, dev_sms, inquiry_actions
    from web.pages import leads as lead_pages
    from web.pages import login as login_pages
    from web.pages import mail_templates as template_pages
    from web.pages import settings as settings_pages
    from web.pages import slot_office as slot_office_pages
    from web.pages import slots as slot_pages

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
    # Middleware cannot come from a router. Login/token/CSRF checks for every route (web.security.auth);
    # metrics added last, so it is outermost and counts refused requests too.
    from web.api.metrics import install_metrics
    from web.security.auth import install_auth

    install_auth(app, settings, problem_page)
    install_metrics(app)
    for router in routers():
        app.include_router(router)
    # CSS, the demo property's pictures; pages link them as /static/….
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
