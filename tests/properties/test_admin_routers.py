"""Every route that changes the portfolio or imports is in an admin router, so one dependency can gate them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from web.api import properties as properties_api
from web.pages import contact_import, property_admin
from web.pages import contacts as contact_pages
from web.pages import properties as property_pages


def _routes(*routers: APIRouter) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                found.update((method, route.path) for method in route.methods or ())
    return found


def test_changes_and_imports_are_admin_routes() -> None:
    admin = _routes(property_admin.router, property_admin.api_router, contact_import.router)
    assert {
        ("POST", "/properties/new"),
        ("POST", "/properties/{property_id:int}/edit"),
        ("POST", "/properties/{property_id:int}/cover"),
        ("POST", "/properties/{property_id:int}/expose"),
        ("POST", "/properties/{property_id:int}/archive"),
        ("POST", "/properties/import"),
        ("POST", "/api/properties/import"),
        ("POST", "/api/properties"),
        ("PUT", "/api/properties/{property_id}"),
        ("POST", "/api/properties/{property_id}/archive"),
        ("POST", "/contacts/import"),
        ("POST", "/contacts/imports/{import_id:int}/confirm"),
    } <= admin
    # What every user may do reads properties, and works with contacts (agents edit their people).
    everyone = _routes(property_pages.router, properties_api.router)
    assert {method for method, _ in everyone} <= {"GET", "HEAD"}
    assert not {path for _, path in _routes(contact_pages.router)} & {path for _, path in admin}
