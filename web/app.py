"""Builds the FastAPI app. Each feature is a router module; list it in routers() below."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from db.session import engine_from_settings, make_session_factory
from settings import Settings, get_settings
from starter.services.context import Services
from web.errors import install_error_handlers
from web.housekeeping import run_housekeeping
from web.security.json_bodies import RefuseLoneSurrogates
from web.security.roles import install_role_errors
from web.security.visibility import install_visibility_errors
from web.templating import STATIC_DIR, problem_page


def routers() -> list[APIRouter]:
    # Imported here so that importing the app module (uvicorn, tests) stays cheap.
    from web.api import automations as automations_api
    from web.api import contacts as contacts_api
    from web.api import crm as crm_api
    from web.api import health, metrics
    from web.api import inquiries as inquiries_api
    from web.api import leads as leads_api
    from web.api import properties as properties_api
    from web.api import settings as settings_api
    from web.api import slots as slots_api
    from web.api import tasks as tasks_api
    from web.api import users as users_api
    from web.pages import account as account_pages
    from web.pages import appointments as appointments_pages
    from web.pages import automations as automations_pages
    from web.pages import confirm as confirm_pages
    from web.pages import contact_import, dev_mail, dev_sms, inquiry_actions, property_admin
    from web.pages import contacts as contact_pages
    from web.pages import dashboard as dashboard_pages
    from web.pages import leads as lead_pages
    from web.pages import legal as legal_pages
    from web.pages import login as login_pages
    from web.pages import mail_templates as template_pages
    from web.pages import mailboxes as mailbox_pages
    from web.pages import media as media_pages
    from web.pages import privacy as privacy_pages
    from web.pages import properties as property_pages
    from web.pages import sales_processes as sales_process_pages
    from web.pages import set_password as set_password_pages
    from web.pages import settings as settings_pages
    from web.pages import slot_office as slot_office_pages
    from web.pages import slots as slot_pages
    from web.pages import tasks as tasks_pages
    from web.pages import users as users_pages

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
        account_pages.router,
        dashboard_pages.router,
        inquiry_actions.router,
        settings_pages.router,
        template_pages.router,
        crm_api.router,
        automations_api.router,
        automations_pages.router,
        mailbox_pages.router,
        mailbox_pages.pages,
        media_pages.router,
        properties_api.router,
        property_pages.router,
        # Admin only (create/edit/upload/archive, OpenImmo import): both routers carry AdminOnly.
        property_admin.router,
        property_admin.api_router,
        contact_pages.router,
        contacts_api.router,
        # Admin only (contacts CSV import): the router carries AdminOnly.
        contact_import.router,
        legal_pages.router,
        privacy_pages.router,
        users_pages.router,
        users_api.router,
        set_password_pages.router,
        tasks_pages.router,
        tasks_api.router,
        sales_process_pages.router,
        appointments_pages.router,
    ]


def create_app(settings: Settings | None = None, *, client: Client | None = None) -> FastAPI:
    """CLIENT: an already connected Temporal client (tests); otherwise one is connected lazily."""
    settings = settings or get_settings()
    settings.check_production()  # a weak production setup does not start at all; the error says what to set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = engine_from_settings(settings)
        app.state.services = Services(
            settings=settings, engine=engine, sessions=make_session_factory(engine), _client=client
        )
        housekeeping = asyncio.create_task(run_housekeeping(app.state.services), name="housekeeping")
        try:
            yield
        finally:
            housekeeping.cancel()
            with suppress(asyncio.CancelledError):
                await housekeeping
            await engine.dispose()

    app = FastAPI(title="immoflow", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_role_errors(app, problem_page)
    install_visibility_errors(app, problem_page)
    # Middleware cannot come from a router. Login/token/CSRF checks for every route (web.security.auth);
    # metrics added last, so it is outermost and counts refused requests too.
    from web.api.metrics import install_metrics
    from web.nav_counts import NavCountsMiddleware
    from web.pages.legal import install_office_identity
    from web.security.auth import install_auth
    from web.security.headers import SecurityHeadersMiddleware
    from web.security.limits import AbuseLimitMiddleware

    app.add_middleware(NavCountsMiddleware)  # inside auth: it needs the user the session named
    install_office_identity(app)  # inside auth: only requests that passed it load the identity
    install_auth(app, settings, problem_page)
    app.add_middleware(RefuseLoneSurrogates)
    app.add_middleware(AbuseLimitMiddleware, settings=settings)
    install_metrics(app)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    if settings.trusted_proxies.strip():
        # Outermost: every layer inside (rate limits, login throttle, logs) sees the real client address,
        # and only when the peer is one of the configured proxies; anyone else's X-Forwarded-For is ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    for router in routers():
        app.include_router(router)
    # CSS, the demo property's pictures; pages link them as /static/….
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico whatever the page links; pages link the SVG as well.
        return FileResponse(
            STATIC_DIR / "favicon.ico", media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"}
        )

    return app
