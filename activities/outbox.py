"""Putting a message into the outbox exactly once: the idempotency key decides, not the caller."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from activities.mail_layout import render_html
from db.models import Message


def header_safe(value: str) -> str:
    """Mail headers must never carry line breaks: a name like "x\\r\\nBcc: y" stays one harmless line."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def readable_address(value: str) -> str:
    """ "Lea Schäfer <lea@example.com>", not "=?utf-8?q?Lea_Sch=C3=A4fer?= <…>": the row is read by people
    (Gesendete Mails, /dev/mail); the MIME encoding is the sender's job when the mail is built."""
    name, address = parseaddr(value)
    if not address or "@" not in address:
        return value
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except (ValueError, LookupError):
            return value
    try:
        return str(Address(display_name=header_safe(name), addr_spec=address))
    except (ValueError, IndexError):  # an address the header registry cannot take apart: keep it as given
        return value


class NewMessage(BaseModel):
    idempotency_key: str = Field(max_length=200)
    channel: str = "email"
    template_key: str | None = None
    sender: str
    recipient: str
    reply_to: str | None = None
    subject: str | None = None
    body_text: str
    body_html: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    inquiry_id: int | None = None
    lead_id: int | None = None
    contact_id: int | None = None
    user_id: int | None = None
    cost_cents: int | None = None
    billing_account: str | None = None


async def enqueue_message(session: AsyncSession, new: NewMessage) -> Message:
    """Insert the message unless its key exists; return the row either way. Caller commits."""
    existing = await session.scalar(select(Message).where(Message.idempotency_key == new.idempotency_key))
    if existing is not None:
        return existing
    values = new.model_dump()
    for header in ("sender", "recipient", "reply_to", "subject"):
        if values[header] is not None:
            values[header] = header_safe(values[header])
    if new.channel == "email":
        for header in ("sender", "recipient", "reply_to"):
            if values[header]:
                values[header] = readable_address(values[header])
        if values["body_html"] is None:
            # Built once, stored with the row: a retry sends the bytes the office saw under "Gesendete Mails".
            values["body_html"] = render_html(new.body_text, subject=values["subject"] or "")
    message = Message(**values)
    try:
        async with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # A concurrent attempt inserted the same key between our select and insert.
        raced = await session.scalar(select(Message).where(Message.idempotency_key == new.idempotency_key))
        assert raced is not None
        return raced
    return message
