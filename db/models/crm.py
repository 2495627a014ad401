"""People and objects of the office: users, mailboxes, contacts, properties and their journal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, CreatedAtMixin


class ContactStatus(StrEnum):
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    OWNER = "owner"
    AGENT = "agent"
    ARCHIVED = "archived"


class MarketingStatus(StrEnum):
    ACTIVE = "active"
    RESERVED = "reserved"
    SOLD = "sold"
    INACTIVE = "inactive"


class ActivityKind(StrEnum):
    """Journal entry kinds; the follow-up process stops on the first three (seed 000)."""

    CANCELLATION = "absage"
    ACCEPTANCE = "zusage"
    WAITING_LIST = "warteliste"
    VIEWING = "besichtigung"
    CALL = "telefonat"
    EMAIL = "email"
    NOTE = "notiz"
    OTHER = "sonstige"
    REPLY = "antwort"  # a prospect's reply by e-mail (issue 15): always a reaction


class UserRole(StrEnum):
    """Admins run the office's configuration (settings, templates, automations, users); agents their own work."""

    ADMIN = "admin"
    AGENT = "agent"


class User(CreatedAtMixin, Base):
    """An agent or office user (onOffice "Benutzer"): can log in, receive tasks and SMS."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    mobile: Mapped[str | None] = mapped_column(String(40))
    sms_allowed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    sms_billing_account: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    role: Mapped[str] = mapped_column(String(20), default=UserRole.AGENT, server_default=UserRole.AGENT)
    deactivated_at: Mapped[datetime | None]
    password_link_version: Mapped[int] = mapped_column(
        default=0, server_default="0", comment="Bumped per set-password link and per password set: older links die."
    )


class Mailbox(CreatedAtMixin, Base):
    """A receiving mailbox for portal inquiries and the main user it belongs to (seed 002)."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    main_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    main_user: Mapped[User] = relationship(lazy="raise")
    # IMAP intake (issue 15); a mailbox without a host only serves the visibility check of seed 002.
    imap_host: Mapped[str | None] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(default=993, server_default="993")
    imap_tls: Mapped[str] = mapped_column(String(10), default="tls", server_default="tls", comment="tls | none")
    imap_user: Mapped[str | None] = mapped_column(String(320))
    imap_password_encrypted: Mapped[str | None] = mapped_column(Text, comment="Fernet token, app key.")
    folder: Mapped[str] = mapped_column(String(200), default="INBOX", server_default="INBOX")
    processed_action: Mapped[str] = mapped_column(
        String(10), default="flag", server_default="flag", comment="flag | move"
    )
    processed_folder: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_contact_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]


class Contact(CreatedAtMixin, Base):
    """An address record (onOffice "Adresse"): prospects, owners and contact persons alike."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    salutation: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(320), index=True, comment="Stored lower-case.")
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile: Mapped[str | None] = mapped_column(String(40))
    street: Mapped[str | None] = mapped_column(String(200))
    zip_code: Mapped[str | None] = mapped_column(String(20), index=True)
    city: Mapped[str | None] = mapped_column(String(120))
    birthday: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default=ContactStatus.PROSPECT)
    newsletter: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="The user this contact record stands for (seed 001 routing)."
    )
    source: Mapped[str | None] = mapped_column(String(64))
    retain_until: Mapped[date | None] = mapped_column(comment="Speichern bis: anonymised after this day.")
    retention_reason: Mapped[str | None] = mapped_column(String(20), comment="interest | contract | legal_duty")
    erased_at: Mapped[datetime | None]

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Property(CreatedAtMixin, Base):
    """A property (onOffice "Immobilie") with what the exposé and the viewing page show."""

    __tablename__ = "properties"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    marketing_status: Mapped[str] = mapped_column(String(20), default=MarketingStatus.ACTIVE)
    visible_to_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    property_type: Mapped[str | None] = mapped_column(String(60))
    rooms: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    living_area: Mapped[Decimal | None] = mapped_column(Numeric(9, 2))
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    street: Mapped[str | None] = mapped_column(String(200))
    zip_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(120))
    key_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cover_image_url: Mapped[str | None] = mapped_column(String(1000))
    expose_url: Mapped[str | None] = mapped_column(String(1000))
    expose_file: Mapped[str | None] = mapped_column(String(500), comment="Path below the data dir.")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    texts: Mapped[dict[str, Any]] = mapped_column(
        default=dict, comment="Free texts (OpenImmo freitexte): description, location, features, other."
    )
    images: Mapped[list[str]] = mapped_column(default=list, comment="Further picture URLs besides the cover.")
    source: Mapped[str | None] = mapped_column(String(20), comment="office | openimmo")
    updated_at: Mapped[datetime | None]
    widerruf_mode: Mapped[str | None] = mapped_column(
        String(10), comment="Broker contract with Widerruf: on | off; null follows the office setting."
    )

    manager: Mapped[User | None] = relationship(lazy="raise")


class PropertyVisibility(Base):
    """Which users may see a property (seed 002: visible to the mailbox's main user)."""

    __tablename__ = "property_visibility"

    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class PropertyContactPerson(Base):
    """Ordered contacts of category "contact person" on a property; position 0 answers (seed 001)."""

    __tablename__ = "property_contact_persons"
    __table_args__ = (UniqueConstraint("property_id", "position"),)

    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class Activity(CreatedAtMixin, Base):
    """A journal entry (onOffice "Aktivität"): cancellations, acceptances, viewings, calls."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_contact_kind_time", "contact_id", "kind", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime]


class Task(CreatedAtMixin, Base):
    __tablename__ = "tasks"
    # The inbox and the navigation's count ask "open tasks of user X" on every page.
    __table_args__ = (Index("ix_tasks_assignee_done", "assignee_user_id", "done"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    due_at: Mapped[datetime | None]
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    done_at: Mapped[datetime | None]
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Note(CreatedAtMixin, Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Deal(CreatedAtMixin, Base):
    """A prospect's deal on a property, moving through stages (e.g. "Reserviert")."""

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    stage: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime | None]


class Appointment(CreatedAtMixin, Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="general", comment="viewing | general")
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
