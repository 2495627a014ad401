"""Mails read from the office's IMAP mailboxes, each stored byte for byte before it is looked at."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class InboundKind(StrEnum):
    INQUIRY = "inquiry"
    REPLY = "reply"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    UNRECOGNISED = "unrecognised"


class InboundStatus(StrEnum):
    STORED = "stored"  # raw copy committed, not classified yet (a crash in between leaves this)
    PROCESSED = "processed"
    UNRECOGNISED = "unrecognised"  # waits in "Nicht erkannte E-Mails" for an agent
    ASSIGNED = "assigned"  # an agent made an inquiry of it
    DISCARDED = "discarded"  # an agent decided it is not an inquiry


class InboundMail(CreatedAtMixin, Base):
    """One mail from one mailbox. (mailbox, dedup key) is unique: a refetch after a crash or a UIDVALIDITY
    change finds the row instead of processing the mail a second time."""

    __tablename__ = "inbound_mails"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "dedup_key"),
        Index("ix_inbound_mails_mailbox_status", "mailbox_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(300), comment="Message-ID, else sha256 of the raw bytes.")
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    message_id: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str | None] = mapped_column(String(400))
    subject: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=InboundStatus.STORED)
    parser: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text, comment="Why it was not recognised, or what was done.")
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"))
    related_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    slot_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("slot_requests.id"), index=True, comment="The time-slot request a reply answered."
    )
    processed_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
