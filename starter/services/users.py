"""The office's users: create, edit, (de)activate, and the signed set-password links that let them in.

A set-password link names the user and their `password_link_version`; issuing a new link or setting a
password bumps the version, so a link works once and only the newest one works. The mail goes through
the outbox (`user:<id>:password-link:<version>`) and a `user.password_link` event, which the dispatcher
turns into an `AccountMailWorkflow` that delivers it: an SMTP outage delays the mail, it never drops it.
Web pages, the JSON API and the CLI call these functions inside their own transaction.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.events import PasswordLinkIssued, record_event
from db.models import Message, User, UserRole
from domain.links import LinkError as LinkError  # re-exported: pages catch it without reaching into activities
from domain.links import LinkSigner
from domain.passwords import hash_password
from messaging.outbox import NewMessage, enqueue_message
from settings import Settings
from starter.services.context import Services

# Long enough for an invitation read after a weekend, short enough that an old mail is no standing key.
PASSWORD_LINK_VALIDITY = timedelta(hours=72)
LINK_PURPOSE = "set-password"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


class UserError(Exception):
    """A request refused with a reason the office can read; STATUS is the HTTP status."""

    status = 422


class UserNotFoundError(UserError):
    status = 404


class UserConflictError(UserError):
    status = 409


class UserInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    mobile: str | None = Field(None, max_length=40)
    sms_allowed: bool = False
    sms_billing_account: str | None = Field(None, max_length=64)
    role: UserRole = UserRole.AGENT

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.lower()
        local, _, domain = value.partition("@")
        if not local or "." not in domain or "@" in domain or any(c.isspace() for c in value):
            raise ValueError("keine gültige E-Mail-Adresse")
        return value

    @field_validator("mobile", "sms_billing_account")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


def check_password(password: str, repeated: str) -> None:
    if password != repeated:
        raise UserError("Die beiden Passwörter stimmen nicht überein.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Das Passwort braucht mindestens {MIN_PASSWORD_LENGTH} Zeichen.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError("Das Passwort ist zu lang.")


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(f"Benutzer {user_id} existiert nicht.")
    return user


async def _check_email(session: AsyncSession, email: str, user_id: int | None) -> None:
    clash = await session.scalar(select(User.id).where(func.lower(User.email) == email))
    if clash is not None and clash != user_id:
        raise UserConflictError(f"Es gibt schon einen Benutzer mit der Adresse {email}.")


async def _active_admins(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(User).where(User.role == UserRole.ADMIN, User.is_active.is_(True))
    )
    return count or 0


async def create_user(session: AsyncSession, data: UserInput, *, password: str | None = None) -> User:
    await _check_email(session, data.email, None)
    # scrypt takes ~50 ms of CPU: off the event loop.
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    user = User(**data.model_dump(), password_hash=password_hash)
    session.add(user)
    await session.flush()
    return user


async def update_user(session: AsyncSession, user_id: int, data: UserInput) -> User:
    user = await get_user(session, user_id)
    await _check_email(session, data.email, user.id)
    demoted = user.role == UserRole.ADMIN and data.role != UserRole.ADMIN and user.is_active
    if demoted and await _active_admins(session) <= 1:
        raise UserConflictError("Das ist der letzte aktive Admin: die Rolle bleibt, sonst verwaltet niemand das Büro.")
    for field, value in data.model_dump().items():
        setattr(user, field, value)
    await session.flush()
    return user


async def deactivate_user(session: AsyncSession, user_id: int, *, acting_user_id: int | None, now: datetime) -> User:
    """The user can no longer log in (their sessions end at the next request); their history stays."""
    user = await get_user(session, user_id)
    if user.id == acting_user_id:
        raise UserConflictError("Sie können sich nicht selbst deaktivieren.")
    if user.role == UserRole.ADMIN and user.is_active and await _active_admins(session) <= 1:
        raise UserConflictError("Das ist der letzte aktive Admin und bleibt aktiv.")
    if user.is_active:
        user.is_active = False
        user.deactivated_at = now
        # Links already mailed must not let a deactivated user back in after reactivation either.
        user.password_link_version += 1
    return user


async def activate_user(session: AsyncSession, user_id: int) -> User:
    user = await get_user(session, user_id)
    user.is_active = True
    user.deactivated_at = None
    return user


def link_signer(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.effective_secret_key())


def password_link(settings: Settings, user: User, now: datetime) -> str:
    token = link_signer(settings).sign(
        LINK_PURPOSE,
        workflow_id=f"user-{user.id}",
        nonce=str(user.password_link_version),
        expires_at=now + PASSWORD_LINK_VALIDITY,
    )
    return f"{settings.public_base_url}/set-password/{token}"


async def issue_password_link(
    session: AsyncSession, user_id: int, settings: Settings, now: datetime, *, reset: bool = False
) -> Message:
    """Mail USER a fresh set-password link (older ones stop working). RESET also ends the current password."""
    user = await get_user(session, user_id)
    if not user.is_active:
        raise UserConflictError("Der Benutzer ist deaktiviert; aktivieren Sie ihn zuerst.")
    user.password_link_version += 1
    if reset:
        user.password_hash = None  # the session fingerprint changes with it: open sessions end too
    link = password_link(settings, user, now)
    invited = user.password_hash is None and not reset
    subject = "Ihr Zugang zu immoflow" if invited else "Neues Passwort für immoflow"
    body = (
        f"Hallo {user.name},\n\n"
        + (
            "für Sie wurde ein Zugang zu immoflow angelegt. "
            if invited
            else "für Ihren Zugang zu immoflow wurde ein neues Passwort angefordert. "
        )
        + "Über diesen Link legen Sie Ihr Passwort fest:\n\n"
        + f"{link}\n\n"
        + f"Der Link gilt {int(PASSWORD_LINK_VALIDITY.total_seconds() // 3600)} Stunden und nur einmal. "
        + f"Ihre Anmeldung danach: {settings.public_base_url}/login mit {user.email}.\n"
    )
    message = await enqueue_message(
        session,
        NewMessage(
            idempotency_key=f"user:{user.id}:password-link:{user.password_link_version}",
            template_key=None,
            sender=settings.mail_from,
            recipient=f"{user.name} <{user.email}>",
            subject=subject,
            body_text=body,
            user_id=user.id,
        ),
    )
    await session.flush()
    record_event(session, PasswordLinkIssued(user_id=user.id, message_id=message.id))
    return message


async def user_for_link(session: AsyncSession, token: str, settings: Settings, *, now: float | None = None) -> User:
    """The user a set-password TOKEN belongs to; LinkError (invalid / expired / used) otherwise."""
    claims = link_signer(settings).verify(LINK_PURPOSE, token, now=now)
    _, _, raw_id = claims.workflow_id.partition("user-")
    user = await session.get(User, int(raw_id)) if raw_id.isdigit() else None
    if user is None or not user.is_active:
        raise LinkError("invalid", "Dieser Link ist ungültig.")
    if claims.nonce != str(user.password_link_version):
        raise LinkError("used", "Dieser Link wurde schon benutzt oder durch einen neueren ersetzt.")
    return user


async def set_password_by_link(
    session: AsyncSession, token: str, password: str, repeated: str, settings: Settings
) -> User:
    user = await user_for_link(session, token, settings)
    check_password(password, repeated)
    user.password_hash = await asyncio.to_thread(hash_password, password)
    user.password_link_version += 1
    return user


async def create_admin(session: AsyncSession, name: str, email: str, password: str) -> User:
    """`immoflow admin create`: the first (or another) admin, with a password typed at the terminal."""
    check_password(password, password)
    data = UserInput(name=name, email=email, role=UserRole.ADMIN)
    return await create_user(session, data, password=password)


# --- use cases for the web app (each opens its own transaction) ------------------------------------------


async def list_users(services: Services, *, active_first: bool = False) -> list[User]:
    """Every user of the office by name; ACTIVE_FIRST puts the deactivated ones at the end (the admin page)."""
    order = (User.is_active.desc(), User.name) if active_first else (User.name,)
    async with services.sessions() as session:
        return list(await session.scalars(select(User).order_by(*order)))


async def active_users(services: Services) -> list[User]:
    """The users who can still be chosen (for a task, an inbox, a calendar), by name."""
    async with services.sessions() as session:
        return list(await session.scalars(select(User).where(User.is_active).order_by(User.name)))


async def load_user(services: Services, user_id: int) -> User:
    """One user; UserNotFoundError when there is none."""
    async with services.sessions() as session:
        return await get_user(session, user_id)


async def add_user(services: Services, data: UserInput, *, send_link: bool, now: datetime) -> User:
    """Create a user (without a password) and, with SEND_LINK, mail the set-password link in the same transaction."""
    async with services.sessions.begin() as session:
        user = await create_user(session, data)
        if send_link:
            await issue_password_link(session, user.id, services.settings, now)
        return user


async def edit_user(services: Services, user_id: int, data: UserInput) -> User:
    """Change a user's details and role (the last active admin keeps theirs)."""
    async with services.sessions.begin() as session:
        return await update_user(session, user_id, data)


async def send_password_link(services: Services, user_id: int, *, now: datetime, reset: bool = False) -> User:
    """Mail a fresh set-password link (older ones stop working); RESET also ends the current password."""
    async with services.sessions.begin() as session:
        await issue_password_link(session, user_id, services.settings, now, reset=reset)
        return await get_user(session, user_id)


async def deactivate(services: Services, user_id: int, *, acting_user_id: int | None, now: datetime) -> User:
    """Deactivate a user (not oneself, not the last active admin); their history stays."""
    async with services.sessions.begin() as session:
        return await deactivate_user(session, user_id, acting_user_id=acting_user_id, now=now)


async def activate(services: Services, user_id: int) -> User:
    """Let a deactivated user log in again."""
    async with services.sessions.begin() as session:
        return await activate_user(session, user_id)


async def check_password_link(services: Services, token: str) -> User:
    """The user a set-password link belongs to; LinkError (invalid / expired / used) otherwise."""
    async with services.sessions() as session:
        return await user_for_link(session, token, services.settings)


async def choose_password(services: Services, token: str, password: str, repeated: str) -> User:
    """Set the password through a set-password link, which then stops working; LinkError or UserError refuse."""
    async with services.sessions.begin() as session:
        return await set_password_by_link(session, token, password, repeated, services.settings)


async def user_by_email(services: Services, address: str) -> User | None:
    """The user with this (lower-cased) e-mail address, whatever its case in the database."""
    if not address:
        return None
    async with services.sessions() as session:
        return await session.scalar(select(User).where(func.lower(User.email) == address))


async def rehash_password(services: Services, user_id: int, password: str) -> User | None:
    """Store PASSWORD (just verified) under today's scrypt parameters; None when the user is gone meanwhile."""
    async with services.sessions.begin() as session:
        row = await session.get(User, user_id)
        if row is not None:
            row.password_hash = await asyncio.to_thread(hash_password, password)
        return row
