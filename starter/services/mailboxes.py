"""Mailboxes as the office configures them (admin page and /api/mailboxes): validated, password encrypted.

The password is write-only: it is encrypted on the way in (messaging.mailbox_secrets) and no read model
carries it, so neither a page nor the API can show it back. Saving records `mailbox.changed` in the same
transaction; the dispatcher then starts the mailbox's watcher (MailboxWorkflow) when it is enabled.

The queue "Nicht erkannte E-Mails" is here too: mails no parser recognised, which an agent assigns (an
inquiry, through the same intake as the HTTP API) or discards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from db.events import MailboxChanged, record_event
from db.models import InboundMail, InboundStatus, Mailbox, User
from db.session import SessionFactory
from messaging.mailbox_secrets import encrypt_password
from settings import Settings
from starter.intake.mail_service import MailIntakeService
from starter.intake.payload import normalise_email, validate_payload
from starter.intake.service import IntakeService
from starter.intake.starting import temporal_starter
from starter.services.context import Services


class MailboxInput(BaseModel):
    """What the office sets. `password` None or empty keeps the stored one (the form never shows it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    address: str = Field(max_length=254)
    main_user_id: int = Field(ge=1, le=2**31 - 1)
    imap_host: str | None = Field(None, max_length=255)
    imap_port: int = Field(993, ge=1, le=65535)
    imap_tls: Literal["tls", "none"] = "tls"
    imap_user: str | None = Field(None, max_length=320)
    password: str | None = Field(None, max_length=1000, repr=False)
    folder: str = Field("INBOX", min_length=1, max_length=200)
    processed_action: Literal["flag", "move"] = "flag"
    processed_folder: str | None = Field(None, max_length=200)
    enabled: bool = False

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("imap_host", "imap_user", "processed_folder", "password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class MailboxError(ValueError):
    def __init__(self, errors: dict[str, str], status_code: int = 422) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status_code = status_code


@dataclass(frozen=True)
class MailboxView:
    id: int
    address: str
    main_user_id: int
    main_user_name: str
    imap_host: str | None
    imap_port: int
    imap_tls: str
    imap_user: str | None
    has_password: bool
    folder: str
    processed_action: str
    processed_folder: str | None
    enabled: bool
    last_uid: int
    uidvalidity: int | None
    last_contact_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    unrecognised: int

    def as_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        for key in ("last_contact_at", "last_error_at"):
            value = data[key]
            data[key] = value.isoformat() if isinstance(value, datetime) else None
        return data


class MailboxService:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def all(self) -> list[MailboxView]:
        async with self._sessions() as session:
            rows = (await session.execute(select(Mailbox, User.name).join(User).order_by(Mailbox.id))).all()
            counted = await session.execute(
                select(InboundMail.mailbox_id, func.count())
                .where(InboundMail.status == InboundStatus.UNRECOGNISED)
                .group_by(InboundMail.mailbox_id)
            )
            waiting = {int(mailbox_id): int(count) for mailbox_id, count in counted.all()}
        return [_view(mailbox, name, waiting.get(mailbox.id, 0)) for mailbox, name in rows]

    async def get(self, mailbox_id: int) -> MailboxView | None:
        return next((m for m in await self.all() if m.id == mailbox_id), None)

    async def users(self) -> list[tuple[int, str]]:
        async with self._sessions() as session:
            rows = await session.execute(select(User.id, User.name).where(User.is_active.is_(True)).order_by(User.name))
            return [(row.id, row.name) for row in rows]

    async def save(self, data: MailboxInput, mailbox_id: int | None = None) -> MailboxView:
        errors: dict[str, str] = {}
        if data.enabled and not data.imap_host:
            errors["imap_host"] = "Für ein eingeschaltetes Postfach ist ein IMAP-Server nötig."
        if data.enabled and not data.imap_user:
            errors["imap_user"] = "Für ein eingeschaltetes Postfach ist ein IMAP-Benutzer nötig."
        if data.processed_action == "move" and not data.processed_folder:
            errors["processed_folder"] = "Zum Verschieben einen Zielordner angeben."
        try:
            async with self._sessions.begin() as session:
                if await session.get(User, data.main_user_id) is None:
                    errors["main_user_id"] = "Diesen Benutzer gibt es nicht."
                mailbox = Mailbox() if mailbox_id is None else await session.get(Mailbox, mailbox_id)
                if mailbox is None:
                    raise MailboxError({"id": "Dieses Postfach gibt es nicht."}, status_code=404)
                if data.enabled and data.password is None and not mailbox.imap_password_encrypted:
                    errors["password"] = "Für ein eingeschaltetes Postfach ist ein Passwort nötig."
                if errors:
                    raise MailboxError(errors)
                for field in (
                    "address", "main_user_id", "imap_host", "imap_port", "imap_tls", "imap_user", "folder",
                    "processed_action", "processed_folder", "enabled",
                ):  # fmt: skip
                    setattr(mailbox, field, getattr(data, field))
                if data.password is not None:
                    mailbox.imap_password_encrypted = encrypt_password(self._settings, data.password)
                    mailbox.last_error = None  # a new password deserves a fresh attempt without the old error
                session.add(mailbox)
                await session.flush()
                record_event(session, MailboxChanged(mailbox_id=mailbox.id, enabled=mailbox.enabled))
                saved_id = mailbox.id
        except IntegrityError:
            raise MailboxError({"address": "Ein Postfach mit dieser Adresse gibt es schon."}, 409) from None
        view = await self.get(saved_id)
        assert view is not None
        return view


def _view(mailbox: Mailbox, user_name: str, unrecognised: int) -> MailboxView:
    return MailboxView(
        id=mailbox.id,
        address=mailbox.address,
        main_user_id=mailbox.main_user_id,
        main_user_name=user_name,
        imap_host=mailbox.imap_host,
        imap_port=mailbox.imap_port,
        imap_tls=mailbox.imap_tls,
        imap_user=mailbox.imap_user,
        has_password=bool(mailbox.imap_password_encrypted),
        folder=mailbox.folder,
        processed_action=mailbox.processed_action,
        processed_folder=mailbox.processed_folder,
        enabled=mailbox.enabled,
        last_uid=mailbox.last_uid,
        uidvalidity=mailbox.uidvalidity,
        last_contact_at=mailbox.last_contact_at,
        last_error=mailbox.last_error,
        last_error_at=mailbox.last_error_at,
        unrecognised=unrecognised,
    )


def mailbox_service(services: Services) -> MailboxService:
    """The mailbox settings' use cases (list, get, users to choose from, save) on this process's database."""
    return MailboxService(services.sessions, services.settings)


def mail_intake(services: Services) -> MailIntakeService:
    """The mail intake as the web app runs it: as the HTTP intake, the workflow starts at once; if Temporal
    is down, the dispatcher starts it later from the inquiry's event."""
    settings = services.settings
    starter = temporal_starter(services.temporal, settings.task_queue)
    return MailIntakeService(
        services.sessions, IntakeService(services.sessions, start_workflow=starter, time_zone=settings.time_zone)
    )


UNRECOGNISED_LISTED = 200  # the queue shows this many, newest first; a longer queue is a parser to write


async def unrecognised_mails(services: Services) -> list[tuple[InboundMail, str]]:
    """The mails waiting in the queue, newest first, each with the address of the mailbox it came to."""
    async with services.sessions() as session:
        rows = await session.execute(
            select(InboundMail, Mailbox.address)
            .join(Mailbox)
            .where(InboundMail.status == InboundStatus.UNRECOGNISED)
            .order_by(InboundMail.id.desc())
            .limit(UNRECOGNISED_LISTED)
        )
        return [(mail, address) for mail, address in rows.all()]


async def inbound_mail(services: Services, inbound_id: int) -> tuple[InboundMail, Mailbox | None] | None:
    """One fetched mail (raw bytes included) and its mailbox; None when there is none."""
    async with services.sessions() as session:
        row = await session.get(InboundMail, inbound_id)
        if row is None:
            return None
        return row, await session.get(Mailbox, row.mailbox_id)


async def assign_unrecognised(services: Services, inbound_id: int, values: dict[str, str], user_id: int | None) -> int:
    """Make an inquiry of an unrecognised mail from the agent's form VALUES; returns the inquiry's id.
    LookupError when there is no such mail; PayloadError or IntakeRejected when the inquiry cannot be made."""
    found = await inbound_mail(services, inbound_id)
    if found is None:
        raise LookupError(inbound_id)
    row, mailbox = found
    assert mailbox is not None  # inbound_mails.mailbox_id is a foreign key
    data: dict[str, Any] = {k: v for k, v in values.items() if v}
    data.update(mailbox=mailbox.address, external_id=(row.message_id or f"mail-{row.id}").strip("<>"))
    payload = validate_payload(data, time_zone=services.settings.time_zone)
    return await mail_intake(services).assign(inbound_id, payload, user_id)


async def discard_unrecognised(services: Services, inbound_id: int, reason: str | None, user_id: int | None) -> None:
    """Take a mail out of the queue without an inquiry. LookupError when there is none, PayloadError when it was
    handled already."""
    await mail_intake(services).discard(inbound_id, reason, user_id)


async def recent_inbound_mail(services: Services, limit: int = 30) -> list[tuple[str, InboundMail]]:
    """The latest mails the watchers fetched, with their mailbox's address, newest first (the dev mail page).
    Empty when the database is not there (yet): that page also serves a stack still starting."""
    try:
        async with services.sessions() as session:
            rows = await session.execute(
                select(Mailbox.address, InboundMail).join(Mailbox).order_by(InboundMail.id.desc()).limit(limit)
            )
            return [(address, mail) for address, mail in rows.all()]
    except SQLAlchemyError:
        return []
