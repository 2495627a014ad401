"""/api/users: the office's users for scripts and integrations (admins or the API token only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select

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
    async with services.sessions() as session:
        return [user_out(user) for user in await session.scalars(select(User).order_by(User.name))]


@router.post("", status_code=201)
async def create_user(data: NewUser, services: ServicesDep) -> UserOut:
    """A new user; with `send_link` (default) they get the mail with their set-password link."""
    try:
        async with services.sessions.begin() as session:
            user = await user_service.create_user(session, UserInput(**data.model_dump(exclude={"send_link"})))
            if data.send_link:
                await user_service.issue_password_link(session, user.id, services.settings, utcnow())
            return user_out(user)
    except UserError as exc:
        raise _refused(exc) from exc


@router.get("/{user_id}")
async def get_user(user_id: int, services: ServicesDep) -> UserOut:
    try:
        async with services.sessions() as session:
            return user_out(await user_service.get_user(session, user_id))
    except UserError as exc:
        raise _refused(exc) from exc


@router.put("/{user_id}")
async def update_user(user_id: int, data: UserInput, services: ServicesDep) -> UserOut:
    try:
        async with services.sessions.begin() as session:
            return user_out(await user_service.update_user(session, user_id, data))
    except UserError as exc:
        raise _refused(exc) from exc


@router.post("/{user_id}/password-link", status_code=202)
async def send_password_link(user_id: int, services: ServicesDep, reset: bool = False) -> UserOut:
    """Mail a fresh set-password link (older links stop working); `?reset=true` also ends the current password."""
    try:
        async with services.sessions.begin() as session:
            await user_service.issue_password_link(session, user_id, services.settings, utcnow(), reset=reset)
            return user_out(await user_service.get_user(session, user_id))
    except UserError as exc:
        raise _refused(exc) from exc


@router.post("/{user_id}/deactivate")
async def deactivate_user(user_id: int, request: Request, services: ServicesDep) -> UserOut:
    acting = current_user(request)
    try:
        async with services.sessions.begin() as session:
            user = await user_service.deactivate_user(
                session, user_id, acting_user_id=acting.id if acting else None, now=utcnow()
            )
            return user_out(user)
    except UserError as exc:
        raise _refused(exc) from exc


@router.post("/{user_id}/activate")
async def activate_user(user_id: int, services: ServicesDep) -> UserOut:
    try:
        async with services.sessions.begin() as session:
            return user_out(await user_service.activate_user(session, user_id))
    except UserError as exc:
        raise _refused(exc) from exc
