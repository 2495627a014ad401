"""Portal inquiries, every raw payload that came in, and the ones we could not read (quarantine)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class InquiryStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    IGNORED = "ignored"
    SKIPPED = "skipped"
    WAITING_FOR_CONFIRMATION = "waiting_for_confirmation"
    COMPLETED = "completed"
    ABORTED = "aborted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class RawPayload(CreatedAtMixin, Base):
    """Every inbound body, stored before it is parsed, so nothing a portal or a prospect sent is lost."""

    __tablename__ = "raw_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), comment="api-json | openimmo | confirm-form | …")
    content_type: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class QuarantinedPayload(CreatedAtMixin, Base):
    """A raw payload that could not be accepted, with the reason the caller was given."""

    __tablename__ = "quarantined_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_payload_id: Mapped[int] = mapped_column(ForeignKey("raw_payloads.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)


class Inquiry(CreatedAtMixin, Base):
    __tablename__ = "inquiries"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60), comment="Portal, e.g. immoscout24.")
    external_id: Mapped[str] = mapped_column(String(200))
    raw_payload_id: Mapped[int | None] = mapped_column(ForeignKey("raw_payloads.id"))
    mailbox_address: Mapped[str | None] = mapped_column(String(320))
    property_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    prospect: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="Data as the portal sent it.")
    email: Mapped[str] = mapped_column(String(320), index=True)
    message: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    workflow_id: Mapped[str] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(40), default=InquiryStatus.RECEIVED, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    duplicate_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    next_step: Mapped[str | None] = mapped_column(String(200))
    next_step_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class InquiryStep(Base):
    """The timeline of one inquiry: what the workflow did, when."""

    __tablename__ = "inquiry_steps"
    __table_args__ = (UniqueConstraint("inquiry_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(120), comment="Idempotency: a retried step writes nothing new.")
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)
