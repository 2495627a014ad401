"""The outbox's activities (deliver, withdraw) and the SMTP transport with the mail it builds.

The claim-send-record logic is messaging/outbox_delivery.py, shared with the activities that compose and
send a mail in one step.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import socket
from datetime import timedelta
from email.header import Header, decode_header, make_header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import Message
from db.session import SessionFactory
from messaging.addresses import UndeliverableAddressError, smtp_address
from messaging.outbox_delivery import LEASE, DeliveryResult, OutboxDelivery
from messaging.smtp_connections import SmtpConnectionPool, smtp_options
from messaging.transport import PermanentDeliveryError, Transport
from settings import Settings

__all__ = ["LEASE", "DeliveryResult", "MessageActivities", "SmtpTransport", "build_email"]


# Address syntax inside a display name. formataddr quotes it, but the email package drops those quotes when
# it folds a header longer than 78 characters (CPython 3.11): "Eve Bcc: victim@example.com …" <eve@…> then
# reads as a group holding victim@example.com. A person's name needs none of these characters.
_DISPLAY_SPECIALS = re.compile(r'[<>@,;:"\\()\[\]]')


def address_header(value: str) -> str:
    """An address header value whose display name cannot turn into addresses, however it gets folded."""
    name, address = parseaddr(value)
    if not address:
        return value
    # Decoded first: an encoded word (=?utf-8?q?Eve_Bcc=3A_…?=) written into a name field hides the same syntax.
    decoded = str(make_header(decode_header(name))) if "=?" in name else name
    try:  # composed before IDN domains were converted: eva@müller.de goes out as eva@xn--mller-kva.de
        address = smtp_address(address)
    except UndeliverableAddressError as exc:
        raise PermanentDeliveryError(str(exc)) from None
    return formataddr((" ".join(_DISPLAY_SPECIALS.sub(" ", decoded).split()), address))


class EncodedHeader(str):
    """A header the email package writes as whole RFC 2047 encoded words, folded between them.

    The default policy folds a long non-ASCII Subject inside its own run of words: right after
    "Subject:" (a parser then reads a leading space) or between an encoded word and plain text, which
    decodes with a doubled space ("Kreuzberg  – bitte"). `email.header.Header` folds between whole
    encoded words, and every parser decodes that to the text as written. EmailPolicy keeps an object
    with a `name` and a `fold(policy=…)` as it is, so this value is written exactly so.
    """

    name: str

    def __new__(cls, name: str, value: str) -> EncodedHeader:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        charset = "us-ascii" if self.isascii() else "utf-8"
        encoded = Header(str(self), charset, header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def build_email(message: Message, data_dir: Path, base_url: str | None = None) -> EmailMessage:
    email = EmailMessage()
    email["From"] = address_header(message.sender)
    email["To"] = address_header(message.recipient)
    if message.reply_to:
        email["Reply-To"] = address_header(message.reply_to)
    email["Subject"] = EncodedHeader("Subject", message.subject or "")
    domain = message.sender.rsplit("@", 1)[-1].rstrip(">") or "immoflow.local"
    # Stable across retries: a second copy after a lost reply carries the same id.
    email["Message-ID"] = f"<immoflow-{message.id}@{domain}>"
    email["X-Immoflow-Key"] = message.idempotency_key
    if message.unsubscribe_token and base_url:
        # RFC 8058: one POST to this https link objects; no confirmation page, no login, no cookies.
        email["List-Unsubscribe"] = f"<{base_url}/unsubscribe/{message.unsubscribe_token}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        path = data_dir / str(attachment["path"])
        ctype = attachment.get("content_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # "text/calendar; method=REQUEST; charset=utf-8": parameters travel with the attachment's type.
        mime, *parameters = (part.strip() for part in ctype.split(";"))
        maintype, subtype = mime.split("/", 1)
        params = dict(p.split("=", 1) for p in parameters if "=" in p)
        email.add_attachment(
            path.read_bytes(),
            maintype=maintype,
            subtype=subtype,
            params=params,
            filename=attachment.get("filename", path.name),
        )
    return email


class SmtpTransport:
    """Mail over SMTP, on sessions kept open between mails (messaging/smtp_connections.py)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.connections = SmtpConnectionPool(self._open_session, size=settings.smtp_connections)
        self._local_hostname: str | None = None

    async def _open_session(self) -> aiosmtplib.SMTP:
        if self._local_hostname is None:
            # The client's name for EHLO, looked up once per worker instead of in a thread per mail.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        smtp = aiosmtplib.SMTP(**smtp_options(self._settings), local_hostname=self._local_hostname)
        await smtp.connect()
        return smtp

    async def send(self, message: Message) -> str:
        s = self._settings
        if s.smtp_host is None:
            raise ApplicationError("IMMOFLOW_SMTP_HOST is not set", non_retryable=False)
        email = build_email(message, s.data_dir, s.public_base_url)
        # Envelope from the row itself, never re-read from headers: a display name can't add recipients.
        try:
            recipients = [smtp_address(address) for _, address in getaddresses([message.recipient]) if address]
            sender = smtp_address(parseaddr(message.sender)[1]) if parseaddr(message.sender)[1] else ""
        except UndeliverableAddressError as exc:
            raise PermanentDeliveryError(str(exc)) from None
        if len(recipients) != 1 or not sender:
            raise PermanentDeliveryError(f"invalid sender or recipient: {message.sender!r} -> {message.recipient!r}")
        try:
            async with self.connections.session() as smtp:
                await smtp.send_message(email, sender=sender, recipients=recipients)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # 4xx (greylisting, mailbox busy) is worth retrying; only 5xx is final.
            if all(500 <= refused.code < 600 for refused in exc.recipients):
                raise PermanentDeliveryError(f"recipient refused: {exc.recipients}") from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError(f"SMTP {exc.code}: {exc.message}") from exc
            raise
        return str(email["Message-ID"]) or make_msgid()


class MessageActivities:
    """The delivery activities every mailing workflow runs (workflows/delivery.py)."""

    def __init__(self, sessions: SessionFactory, transports: dict[str, Transport], lease: timedelta = LEASE) -> None:
        self.delivery = OutboxDelivery(sessions, transports, lease)

    @activity.defn(name="withdraw_message")
    async def withdraw_message(self, message_id: int) -> DeliveryResult:
        """A composed message its workflow will not send after all (the prospect confirmed meanwhile).

        Only a message no attempt has claimed yet: one being sent or sent stays what it is."""
        return await self.delivery.withdraw(message_id)

    @activity.defn(name="deliver_message")
    async def deliver_message(self, message_id: int) -> DeliveryResult:
        return await self.delivery.deliver(message_id)
