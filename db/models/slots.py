"""Time-slot requests (seed 001): one contact, at most one property, and the slots the prospect proposed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class SlotRequestStatus(StrEnum):
    CREATED = "created"
    WAITING = "waiting"
    ANSWERED = "answered"
    SCHEDULED = "scheduled"
    EXPIRED = "expired"
    FAILED = "failed"


class SlotRequest(CreatedAtMixin, Base):
    """A link that asks a contact for up to 5 time slots; its workflow is `slots-<id>`."""

    __tablename__ = "slot_requests"
    # The workflow id is slots-<id> and may never be reused (REJECT_DUPLICATE): SQLite must not hand out
    # the id of a deleted newest row again, as it does without AUTOINCREMENT. PostgreSQL never does.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"))
    recipient_kind: Mapped[str] = mapped_column(String(20), comment="user | contact_person")
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="Set when recipient_kind is user."
    )
    response_types: Mapped[list[str]] = mapped_column(comment="Non-empty subset of email, task, sms.")
    status: Mapped[str] = mapped_column(String(20), default=SlotRequestStatus.CREATED, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime]
    workflow_id: Mapped[str | None] = mapped_column(String(300), unique=True)
    link_nonce: Mapped[str] = mapped_column(String(64), comment="Binds the signed link to this request.")
    send_invitation: Mapped[bool] = mapped_column(
        comment="False when the link travels in another mail (the {{ time_slot_link }} placeholder)."
    )
    origin_key: Mapped[str | None] = mapped_column(
        String(200), unique=True, comment="Idempotency of requests made by mails, e.g. inquiry:7:expose."
    )
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("raw_payloads.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    deliveries: Mapped[list[dict[str, Any]]] = mapped_column(
        default=list, comment="How the answer was routed (channel, recipient, fallback reason)."
    )
    chosen_position: Mapped[int | None]
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    updated_at: Mapped[datetime | None]


class SlotProposal(Base):
    """One slot the prospect proposed; POSITION is its 1-based place on the form."""

    __tablename__ = "slot_proposals"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("slot_requests.id", ondelete="CASCADE"))
    position: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
