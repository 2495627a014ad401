"""/properties: the office's properties, for every logged-in user (reading); changes are in property_admin.py.

The list filters by marketing status, manager and "visible to me" (seed 002's rule: visible to all, or to
the user), searches ref, title, street, zip and city, and pages by 50; a property's page shows what the
exposé and the viewing page show (cover, key facts, texts), who sees it, its ordered contact persons and
how many inquiries and open leads it has.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from db.models import MarketingStatus
from starter.services.dashboard import safe_link
from starter.services.office_choices import office_users
from starter.services.properties import (
    MARKETING_LABELS,
    PAGE_SIZE,
    PropertyFilter,
    find_expose,
    get_property_detail,
    search_properties,
)
from web.dependencies import ServicesDep
from web.pages.dashboard import not_found
from web.security.auth import current_user
from web.templating import templates

router = APIRouter(tags=["office"], include_in_schema=False)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


@router.get("/properties", response_class=HTMLResponse)
async def properties(
    request: Request,
    services: ServicesDep,
    q: str = "",
    status: str = "",
    manager: str = "",
    mine: str = "",
    archived: str = "",
    page: str = "1",
) -> HTMLResponse:
    # Query values are read leniently: a hand-edited URL gets the list, not a JSON validation error.
    user = current_user(request)
    mine_only, in_archive = mine == "true", archived == "true"
    wanted = PropertyFilter(
        query=q.strip()[:100],
        status=status if status in set(MarketingStatus) else "",
        manager_user_id=_int(manager),
        visible_to_user_id=user.id if mine_only and user else None,
        archived=in_archive,
        page=max(1, min(_int(page) or 1, 10_000)),
    )
    rows, total = await search_properties(services, wanted)
    users = await office_users(services, active_only=False)  # the filter may name a deactivated manager
    context = {
        "rows": rows,
        "total": total,
        "wanted": wanted,
        "users": users,
        "labels": MARKETING_LABELS,
        "mine": mine_only,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "safe_link": safe_link,
    }
    return templates.TemplateResponse(request, "properties/list.html", context)


@router.get("/properties/{property_id:int}", response_class=HTMLResponse)
async def property_page(request: Request, property_id: int, services: ServicesDep) -> HTMLResponse:
    detail = await get_property_detail(services, property_id)
    if detail is None:
        return not_found(request, f"Objekt #{property_id} existiert nicht.")
    context = {"d": detail, "labels": MARKETING_LABELS, "safe_link": safe_link}
    return templates.TemplateResponse(request, "properties/detail.html", context)


@router.get("/properties/{property_id:int}/expose.pdf", response_model=None)
async def expose_download(request: Request, property_id: int, services: ServicesDep) -> FileResponse | HTMLResponse:
    found = await find_expose(services, property_id)
    if found is None:
        return not_found(request, "Für dieses Objekt ist kein Exposé-PDF hinterlegt.")
    path, ref = found
    return FileResponse(path, media_type="application/pdf", filename=f"Expose-{ref}.pdf")
