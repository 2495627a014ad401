"""Who sees which inquiries, leads and slot requests (seed 002's "visible to the user", for the office).

An agent sees the properties visible to them (visible to everyone, in their visibility list, or managed by
them) and the inquiries, leads and slot requests of those properties; besides that their own work: leads
they take, slot requests they answer or made. Admins and the API token see everything.
Pages and the JSON API apply the same conditions; a hidden item answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Inquiry, Lead, Property, PropertyVisibility, SlotRequest
from web.security.auth import ProblemPage
from web.security.roles import Viewer, viewer
from web.texts import t


def visible_property_ids(user_id: int) -> Any:
    """A subquery of the ids of the properties USER_ID may see."""
    listed = exists().where(PropertyVisibility.property_id == Property.id, PropertyVisibility.user_id == user_id)
    return select(Property.id).where(
        or_(Property.visible_to_all.is_(True), Property.manager_user_id == user_id, listed)
    )


def property_condition(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all or viewer.user_id is None:
        return true()
    return Property.id.in_(visible_property_ids(viewer.user_id))


def inquiry_condition(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all or viewer.user_id is None:
        return true()
    visible = visible_property_ids(viewer.user_id)
    # Before the workflow resolved the property only the reference is known: match it the same way. The
    # receiving mailbox grants nothing: a shared mailbox must not show every agent every property's inquiries.
    visible_refs = select(Property.external_ref).where(Property.id.in_(visible))
    return or_(
        Inquiry.property_id.in_(visible), (Inquiry.property_id.is_(None) & Inquiry.property_ref.in_(visible_refs))
    )


def lead_condition(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all or viewer.user_id is None:
        return true()
    return or_(Lead.taker_user_id == viewer.user_id, Lead.property_id.in_(visible_property_ids(viewer.user_id)))


def slot_request_condition(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all or viewer.user_id is None:
        return true()
    uid = viewer.user_id
    return or_(
        SlotRequest.recipient_user_id == uid,
        SlotRequest.created_by_user_id == uid,
        SlotRequest.property_id.in_(visible_property_ids(uid)),
    )


async def can_see(session: AsyncSession, viewer: Viewer, model: Any, row_id: int) -> bool:
    """Whether VIEWER may see row ROW_ID of MODEL (Inquiry, Lead or SlotRequest); unknown rows: False."""
    if viewer.sees_all:
        return True
    condition = CONDITIONS[model](viewer)
    return await session.scalar(select(model.id).where(model.id == row_id, condition)) is not None


CONDITIONS: dict[Any, Any] = {Inquiry: inquiry_condition, Lead: lead_condition, SlotRequest: slot_request_condition}


class NotVisibleError(Exception):
    """The row does not exist or its property is hidden from the caller; answered as 404."""


def require_visible(model: Any, param: str) -> Any:
    """A route dependency: 404 unless the caller may see the MODEL row named by path parameter PARAM.

    `@router.get("/leads/{lead_id}", dependencies=[require_visible(Lead, "lead_id")])`
    """

    async def check(request: Request) -> None:
        current = viewer(request)
        if current.sees_all:
            return
        raw = request.path_params.get(param, "")
        services = request.app.state.services
        async with services.sessions() as session:
            if not str(raw).isdigit() or not await can_see(session, current, model, int(raw)):
                raise NotVisibleError

    return Depends(check)


def install_visibility_errors(app: FastAPI, problem_page: ProblemPage) -> None:
    @app.exception_handler(NotVisibleError)
    async def not_visible(request: Request, exc: NotVisibleError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": t("visibility.not_found")}, status_code=404)
        return problem_page(request, t("error.not_found"), t("visibility.not_found"), 404)


async def ensure_property_visible(session: AsyncSession, current: Viewer, property_id: int | None) -> None:
    """Refuse (404) work on a property hidden from the caller: an agent cannot file a lead or a slot
    request on a property they may not see."""
    if property_id is None or current.sees_all:
        return
    found = await session.scalar(select(Property.id).where(Property.id == property_id, property_condition(current)))
    if found is None:
        raise NotVisibleError
