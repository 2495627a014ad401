"""The prospect's rights in the database: consent with proof, objections, the privacy audit log.

Objections are looked up by a hash of the address, never by the address itself: an erased contact's
objection has to outlive the erasure (we must not mail them again), and the hash is all it keeps.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class ConsentPurpose(StrEnum):
    ADVERTISING = "advertising"  # "passende Angebote": offers by e-mail, double opt-in
    WIDERRUF_EARLY_START = "widerruf_early_start"  # § 356 (4) BGB: start before the withdrawal period ends
    WIDERRUF_NOTICE = "widerruf_notice"  # the Widerrufsbelehrung was shown (versions kept as proof)


class ConsentStatus(StrEnum):
    PENDING = "pending"  # double opt-in mail sent, not confirmed: does not count
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    GIVEN = "given"  # declarations that need no opt-in mail (early start, notice shown)


class ObjectionScope(StrEnum):
    ADVERTISING = "advertising"
    ALL = "all"


class ConsentRecord(CreatedAtMixin, Base):
    """One declaration with its proof: the exact text shown, its version, when, from where, on which page."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ConsentStatus.PENDING)
    email: Mapped[str | None] = mapped_column(String(320), comment="Null after erasure.")
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"), index=True)
    raw_payload_id: Mapped[int | None] = mapped_column(ForeignKey("raw_payloads.id"))
    text: Mapped[str] = mapped_column(Text, comment="Exactly what the person saw next to the checkbox.")
    text_version: Mapped[str] = mapped_column(String(40))
    page: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    given_at: Mapped[datetime]
    confirm_token: Mapped[str | None] = mapped_column(String(64), unique=True, comment="Double opt-in link token.")
    confirmed_at: Mapped[datetime | None]
    confirm_ip: Mapped[str | None] = mapped_column(String(64))
    confirm_user_agent: Mapped[str | None] = mapped_column(String(400))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(String(300))
    legal_hold: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0", comment="Kept through erasure (proof owed for a contract)."
    )


class Objection(CreatedAtMixin, Base):
    """A Widerspruch (Art. 21 DSGVO, § 7 UWG): no more advertising, or no more mail at all, to that address."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), comment="one-click | page | office")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    raw_payload_id: Mapped[int | None] = mapped_column(ForeignKey("raw_payloads.id"))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    at: Mapped[datetime]


class PrivacyAudit(CreatedAtMixin, Base):
    """Who exported or erased whose data, and when (Art. 5 (2) DSGVO accountability)."""

    __tablename__ = "privacy_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(30), comment="export | erase | retention_notice | objection")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
