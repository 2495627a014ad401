"""/api/users: the office's users for scripts and integrations (admins or the API token only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from db.base import utcnow
from db.models import User
from starter.services import users as user_service
from starter.services.users import UserError, UserInput
from web.dependencies import ServicesDep
from web.security.auth import current_user
from web.security.roles import AdminOnly

router = APIRouter(prefix="/api/users", tags=["users"], dependencies=[AdminOnly])


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    mobile: str | None
    sms_allowed: bool
    sms_billing_account: str | None
    role: str
    is_active: bool
    has_password: bool
    deactivated_at: datetime | None


class NewUser(UserInput):
    send_link: bool = True


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        email=user.email,
        mobile=user.mobile,
        sms_allowed=user.sms_allowed,
        sms_billing_account=user.sms_billing_account,
        role=user.role,
        is_active=user.is_active,
        has_password=user.password_hash is not None,
        deactivated_at=user.deactivated_at,
    )


def _refused(exc: UserError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.get("")
async def list_users(services: ServicesDep) -> list[UserOut]:
    return [user_out(user) for user in await user_service.list_users(services)]


@router.post("", status_code=201)
async def create_user(data: NewUser, services: ServicesDep) -> UserOut:
    """A new user; with `send_link` (default) they get the mail with their set-password link."""
    try:
        user = await user_service.add_user(
            services, UserInput(**data.model_dump(exclude={"send_link"})), send_link=data.send_link, now=utcnow()
        )
    except UserError as exc:
        raise _refused(exc) from exc
    return user_out(user)


@router.get("/{user_id}")
async def get_user(user_id: int, services: ServicesDep) -> UserOut:
    try:
        return user_out(await user_service.load_user(services, user_id))
    except UserError as exc:
        raise _refused(exc) from exc


@router.put("/{user_id}")
async def update_user(user_id: int, data: UserInput, services: ServicesDep) -> UserOut:
    try:
        return user_out(await user_service.edit_user(services, user_id, data))
    except UserError as exc:
        raise _refused(exc) from exc


@router.post("/{user_id}/password-link", status_code=202)
async def send_password_link(user_id: int, services: ServicesDep, reset: bool = False) -> UserOut:
    """Mail a fresh set-password link (older links stop working); `?reset=true` also ends the current password."""
    try:
        return user_out(await user_service.send_password_link(services, user_id, now=utcnow(), reset=reset))
    except UserError as exc:
        raise _refused(exc) from exc


@router.post("/{user_id}/deactivate")
async def deactivate_user(user_id: int, request: Request, services: ServicesDep) -> UserOut:
    acting = current_user(request)
    try:
        user = await user_service.deactivate(
            services, user_id, acting_user_id=acting.id if acting else None, now=utcnow()
        )
    except UserError as exc:
        raise _refused(exc) from exc
    return user_out(user)


@router.post("/{user_id}/activate")
async def activate_user(user_id: int, services: ServicesDep) -> UserOut:
    try:
        return user_out(await user_service.activate(services, user_id))
    except UserError as exc:
        raise _refused(exc) from exc
