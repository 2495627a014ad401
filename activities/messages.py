"""Delivering outbox messages: claim the row, hand it to its transport (SMTP, SMS), record the outcome.

Exactly-once, as far as SMTP allows: the row is claimed with a lease before sending, so a retried or
duplicated activity finds it "sent" (or still leased) and does not send again. The remaining window is
a crash after the SMTP server accepted the message and before the row says so: then the retry sends a
second copy with the same Message-ID header, which receiving systems use to fold duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.header import Header, decode_header, make_header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib
from pydantic import BaseModel
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.base import utcnow
from db.models import Message, MessageStatus
from db.session import SessionFactory
from messaging.addresses import UndeliverableAddressError, smtp_address
from messaging.mail_policy import suppression_reason
from messaging.transport import PermanentDeliveryError, Transport
from settings import Settings

# How long a claim on an outbox row holds without news from its sender. The sending attempt renews it (and
# heartbeats to Temporal) four times per lease, so a slow SMTP conversation keeps its claim while a crashed
# worker's claim runs out after at most LEASE, when Temporal's heartbeat timeout retries the delivery.
LEASE = timedelta(seconds=20)


class DeliveryResult(BaseModel):
    message_id: int
    status: str
    already_sent: bool = False


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
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

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
            await aiosmtplib.send(
                email,
                sender=sender,
                recipients=recipients,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=s.smtp_timeout_seconds,
            )
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
    def __init__(self, sessions: SessionFactory, transports: dict[str, Transport], lease: timedelta = LEASE) -> None:
        self._sessions = sessions
        self._transports = transports
        self._lease = lease

    @activity.defn(name="withdraw_message")
    async def withdraw_message(self, message_id: int) -> DeliveryResult:
        """A composed message its workflow will not send after all (the prospect confirmed meanwhile).

        Only a message no attempt has claimed yet: one being sent or sent stays what it is."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == MessageStatus.PENDING)
                .values(status=MessageStatus.WITHDRAWN, error="nicht gesendet: inzwischen überholt")
            )
            status = await session.scalar(select(Message.status).where(Message.id == message_id))
        return DeliveryResult(message_id=message_id, status=status or MessageStatus.WITHDRAWN)

    @activity.defn(name="deliver_message")
    async def deliver_message(self, message_id: int) -> DeliveryResult:
        claimed = await self._claim(message_id)
        if isinstance(claimed, DeliveryResult):
            return claimed
        transport = self._transports.get(claimed.channel)
        if transport is None:
            raise ApplicationError(f"no transport for channel {claimed.channel}", non_retryable=True)
        try:
            async with self._lease_kept(message_id):
                provider_id = await transport.send(claimed)
        except PermanentDeliveryError as exc:
            await self._finish(message_id, MessageStatus.FAILED, error=str(exc))
            raise ApplicationError(str(exc), type="PermanentDeliveryError", non_retryable=True) from exc
        except Exception as exc:
            await self._finish(message_id, MessageStatus.RETRYING, error=f"{type(exc).__name__}: {exc}")
            raise
        await self._finish(message_id, MessageStatus.SENT, provider_id=provider_id)
        activity.logger.info("message %s sent (%s)", message_id, claimed.idempotency_key)
        return DeliveryResult(message_id=message_id, status=MessageStatus.SENT)

    async def _claim(self, message_id: int) -> Message | DeliveryResult:
        now = utcnow()
        async with self._sessions.begin() as session:
            suppressed = await self._suppress(session, message_id)
            if suppressed is not None:
                return suppressed
            result = await session.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    or_(
                        Message.status.in_([MessageStatus.PENDING, MessageStatus.RETRYING]),
                        (Message.status == MessageStatus.SENDING) & (Message.lease_until < now),
                    ),
                )
                .values(status=MessageStatus.SENDING, lease_until=now + self._lease, attempts=Message.attempts + 1)
            )
            message = await session.scalar(select(Message).where(Message.id == message_id))
        if message is None:
            raise ApplicationError(f"message {message_id} does not exist", non_retryable=True)
        if getattr(result, "rowcount", 0) == 1:
            return message
        if message.status == MessageStatus.SENT:
            return DeliveryResult(message_id=message_id, status=message.status, already_sent=True)
        if message.status == MessageStatus.SUPPRESSED:
            return DeliveryResult(message_id=message_id, status=message.status)
        if message.status == MessageStatus.FAILED:
            raise ApplicationError(f"message {message_id} failed: {message.error}", non_retryable=True)
        # Leased by another attempt that is still within its lease: let Temporal retry after it.
        raise ApplicationError(f"message {message_id} is being sent by another attempt")

    @staticmethod
    async def _suppress(session: AsyncSession, message_id: int) -> DeliveryResult | None:
        """Refuse a mail the recipient objected to, or advertising without consent: decided in the claim's
        transaction, so an objection recorded a second before the send still stops it."""
        message = await session.get(Message, message_id)
        if message is None or message.status not in (MessageStatus.PENDING, MessageStatus.RETRYING):
            return None
        reason = await suppression_reason(session, message)
        if reason is None:
            return None
        await session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status.in_([MessageStatus.PENDING, MessageStatus.RETRYING]))
            .values(status=MessageStatus.SUPPRESSED, error=reason, lease_until=None)
        )
        activity.logger.info("message %s suppressed: %s", message_id, reason)
        return DeliveryResult(message_id=message_id, status=MessageStatus.SUPPRESSED)

    @contextlib.asynccontextmanager
    async def _lease_kept(self, message_id: int) -> AsyncIterator[None]:
        """While the transport talks: heartbeat to Temporal and extend the row's lease, four times per lease."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 4)
                if activity.in_activity():
                    activity.heartbeat()
                try:
                    async with self._sessions.begin() as session:
                        await session.execute(
                            update(Message)
                            .where(Message.id == message_id, Message.status == MessageStatus.SENDING)
                            .values(lease_until=utcnow() + self._lease)
                        )
                except Exception as exc:
                    activity.logger.warning("lease of message %s not renewed: %s", message_id, exc)

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _finish(
        self,
        message_id: int,
        status: MessageStatus,
        *,
        error: str | None = None,
        provider_id: str | None = None,
    ) -> None:
        values: dict[str, object] = {"status": status, "error": error, "lease_until": None}
        if status == MessageStatus.SENT:
            values.update(sent_at=utcnow(), smtp_message_id=provider_id)
        async with self._sessions.begin() as session:
            await session.execute(update(Message).where(Message.id == message_id).values(**values))
