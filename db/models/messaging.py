"""Outgoing messages (the outbox), their templates, office settings and domain events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"  # sent, then a delivery-status report came back (issue 15)
    WITHDRAWN = "withdrawn"  # composed, then not sent: its workflow learned meanwhile it was no longer due
    SUPPRESSED = "suppressed"  # refused by the outbox: no consent, or the recipient objected (see error)


class Message(CreatedAtMixin, Base):
    """One outgoing email or SMS. The unique key is inserted before sending: a retry finds it, never resends."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(10), default="email", comment="email | sms")
    template_key: Mapped[str | None] = mapped_column(String(120))
    sender: Mapped[str] = mapped_column(String(400))
    recipient: Mapped[str] = mapped_column(String(400))
    reply_to: Mapped[str | None] = mapped_column(String(400))
    subject: Mapped[str | None] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    smtp_message_id: Mapped[str | None] = mapped_column(String(300))
    cost_cents: Mapped[int | None]
    billing_account: Mapped[str | None] = mapped_column(String(64))
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mail_class: Mapped[str | None] = mapped_column(
        String(20), comment="transactional | advertising; null: a mail to the office itself."
    )
    unsubscribe_token: Mapped[str | None] = mapped_column(
        String(64), unique=True, comment="Random token of the mail's one-click objection link (RFC 8058)."
    )


class MessageTemplate(CreatedAtMixin, Base):
    """A user-editable mail template (Jinja2, rendered in a sandbox)."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime | None]


class AppSetting(Base):
    """Office settings as validated JSON documents, one row per section (e.g. inquiry_manager)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime | None]


class DomainEvent(CreatedAtMixin, Base):
    """Transactional outbox: written with the change, delivered to workflows by the dispatcher."""

    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_pending", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    depth: Mapped[int] = mapped_column(default=0, comment="Automation chain depth, cuts loops.")
    dispatched_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
