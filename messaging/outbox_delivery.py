"""Delivering one outbox message: claim the row, hand it to its transport (SMTP, SMS), record the outcome.

Exactly-once, as far as SMTP allows: the row is claimed with a lease before sending, so a retried or
duplicated attempt finds it "sent" (or still leased) and does not send again. The remaining window is
a crash after the SMTP server accepted the message and before the row says so: then the retry sends a
second copy with the same Message-ID header, which receiving systems use to fold duplicates.

One class serves every activity that sends: the delivery activity of activities/messages.py, and the
activities that compose and send in one step (issue 19: one activity per mail instead of two).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.base import utcnow
from db.models import Message, MessageStatus
from db.session import SessionFactory
from messaging.mail_policy import suppression_reason
from messaging.transport import PermanentDeliveryError, Transport

# How long a claim on an outbox row holds without news from its sender. The sending attempt renews it (and
# heartbeats to Temporal) four times per lease, so a slow SMTP conversation keeps its claim while a crashed
# worker's claim runs out after at most LEASE, when Temporal's heartbeat timeout retries the delivery.
LEASE = timedelta(seconds=20)
# Writing "sent" after the server accepted: tries, with pauses of 0.5, 1, 2, … seconds (at most a quarter lease).
RECORD_SENT_ATTEMPTS = 8

T = TypeVar("T")


async def _uncancellable(work: Coroutine[Any, Any, T]) -> T:
    """Run WORK to its end even when the activity is cancelled meanwhile (a heartbeat timeout, a worker
    shutting down), then pass the cancellation on. A claimed send cut off between the SMTP server's "250"
    and the row's "sent" is how a mail goes out twice: the next attempt finds the lease run out and sends
    again. WORK is bounded by the SMTP timeout and RECORD_SENT_ATTEMPTS, well inside a graceful shutdown."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise  # WORK itself was cancelled (its own timeout): nothing left to protect
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError()
    return result


class DeliveryResult(BaseModel):
    message_id: int
    status: str
    already_sent: bool = False


class OutboxDelivery:
    def __init__(self, sessions: SessionFactory, transports: dict[str, Transport], lease: timedelta = LEASE) -> None:
        self._sessions = sessions
        self._transports = transports
        self._lease = lease

    async def withdraw(self, message_id: int) -> DeliveryResult:
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

    async def deliver(self, message_id: int) -> DeliveryResult:
        claimed = await self._claim(message_id)
        if isinstance(claimed, DeliveryResult):
            return claimed
        transport = self._transports.get(claimed.channel)
        if transport is None:
            raise ApplicationError(f"no transport for channel {claimed.channel}", non_retryable=True)
        return await _uncancellable(self._send_claimed(claimed, transport))

    async def _send_claimed(self, claimed: Message, transport: Transport) -> DeliveryResult:
        message_id = claimed.id
        async with self._lease_kept(message_id):
            try:
                provider_id = await transport.send(claimed)
            except PermanentDeliveryError as exc:
                await self._finish(message_id, MessageStatus.FAILED, error=str(exc))
                raise ApplicationError(str(exc), type="PermanentDeliveryError", non_retryable=True) from exc
            except Exception as exc:
                await self._finish(message_id, MessageStatus.RETRYING, error=f"{type(exc).__name__}: {exc}")
                raise
            # Still under the lease: while the row does not say "sent", no other attempt may claim it.
            await self._record_sent(message_id, provider_id)
        activity.logger.info("message %s sent (%s)", message_id, claimed.idempotency_key)
        return DeliveryResult(message_id=message_id, status=MessageStatus.SENT)

    async def _record_sent(self, message_id: int, provider_id: str) -> None:
        """The server has the mail: "sent" must reach the row, or a retry sends it again. A busy or briefly
        unreachable database is waited for (the lease is renewed meanwhile), up to RECORD_SENT_ATTEMPTS."""
        for attempt in range(1, RECORD_SENT_ATTEMPTS + 1):
            try:
                await self._finish(message_id, MessageStatus.SENT, provider_id=provider_id)
                return
            except Exception as exc:
                if attempt == RECORD_SENT_ATTEMPTS:
                    raise
                activity.logger.warning("message %s sent, recording it failed (%s); retrying", message_id, exc)
                await asyncio.sleep(min(2.0**attempt / 4, self._lease.total_seconds() / 4))

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

    def heartbeating(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Heartbeat to Temporal four times per lease while the block runs: the work an activity does before
        its send (composing, recording steps) counts against the same heartbeat timeout as the send. An
        attempt that kept silent through a slow database would be timed out, retried and cancelled."""
        return self._beating(None)

    def _lease_kept(self, message_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """While the transport talks: heartbeat to Temporal and extend the row's lease, four times per lease."""
        return self._beating(message_id)

    @contextlib.asynccontextmanager
    async def _beating(self, leased_message_id: int | None) -> AsyncIterator[None]:
        async def keep() -> None:
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 4)
                if activity.in_activity():
                    activity.heartbeat()
                if leased_message_id is not None:
                    await self._renew_lease(leased_message_id)

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _renew_lease(self, message_id: int) -> None:
        try:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.status == MessageStatus.SENDING)
                    .values(lease_until=utcnow() + self._lease)
                )
        except Exception as exc:
            activity.logger.warning("lease of message %s not renewed: %s", message_id, exc)

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
