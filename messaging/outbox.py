"""Putting a message into the outbox exactly once: the idempotency key decides, not the caller."""

from __future__ import annotations

import secrets
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.app_settings import load_section
from db.legal_settings import SECTION, LegalSettings
from db.models import Message
from messaging.mail_layout import brand_of, render_html
from messaging.mail_policy import footer_html, footer_text, mail_class_for
from settings import Settings, get_settings

UNSUBSCRIBE_PATH = "/unsubscribe/"


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
    mail_class: str | None = Field(None, description="None: decided from the template and the addressee.")


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}{UNSUBSCRIBE_PATH}{token}"


async def _with_legal_footer(session: AsyncSession, new: NewMessage, settings: Settings | None) -> dict[str, Any]:
    """A mail to a prospect gets its class, the office's footer and its own one-click objection token."""
    values = new.model_dump()
    if new.channel != "email":
        return values
    settings = settings or get_settings()
    identity = (await load_section(session, SECTION, LegalSettings)).identity
    if values["body_html"] is None:
        # Built once, stored with the row: a retry sends the bytes the office saw under "Gesendete Mails".
        brand = brand_of(identity, settings.public_base_url)
        values["body_html"] = render_html(new.body_text, brand=brand, subject=header_safe(new.subject or ""))
    mail_class = new.mail_class or mail_class_for(
        new.template_key,
        to_contact=new.contact_id is not None or new.inquiry_id is not None,
        to_user=new.user_id is not None,
    )
    if mail_class is None:
        return values
    token = secrets.token_urlsafe(24)
    link = unsubscribe_url(settings, token)
    values["mail_class"] = str(mail_class)
    values["unsubscribe_token"] = token
    values["body_text"] = new.body_text.rstrip("\n") + "\n" + footer_text(identity, settings.public_base_url, link)
    if values["body_html"]:
        footer = footer_html(identity, settings.public_base_url, link)
        body = values["body_html"]
        values["body_html"] = body.replace("</body>", footer + "</body>", 1) if "</body>" in body else body + footer
    return values


async def enqueue_message(session: AsyncSession, new: NewMessage, settings: Settings | None = None) -> Message:
    """Insert the message unless its key exists; return the row either way. Caller commits.

    SETTINGS: for the links of a prospect mail's footer (the process's settings when not given)."""
    existing = await session.scalar(select(Message).where(Message.idempotency_key == new.idempotency_key))
    if existing is not None:
        return existing
    values = await _with_legal_footer(session, new, settings)
    for header in ("sender", "recipient", "reply_to", "subject"):
        if values[header] is not None:
            values[header] = header_safe(values[header])
    if new.channel == "email":
        for header in ("sender", "recipient", "reply_to"):
            if values[header]:
                values[header] = readable_address(values[header])
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
