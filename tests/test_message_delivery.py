"""The outbox delivery activity against a real database and a real SMTP peer: once, retried, or refused for good."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import formataddr

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import update
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.messages import DeliveryResult, MessageActivities, SmtpTransport
from db.base import utcnow
from db.models import Message, MessageStatus
from db.session import SessionFactory
from messaging.outbox import NewMessage, enqueue_message
from settings import Settings
from starter.dev.config import free_port
from starter.dev.smtp_sink import SmtpSink


def _activities(sessions: SessionFactory, settings: Settings) -> MessageActivities:
    return MessageActivities(sessions, {"email": SmtpTransport(settings)})


async def _enqueue(sessions: SessionFactory, key: str = "test:1:confirmation", **fields: str) -> int:
    values = {
        "sender": "Anna Agent <agent@immoflow.local>",
        "recipient": "Bernd Bekannt <bekannt@example.com>",
        "subject": "Ihre Anfrage zu W-1001",
        "body_text": "Guten Tag,\nvielen Dank für Ihre Anfrage.",
        **fields,
    }
    async with sessions.begin() as session:
        message = await enqueue_message(session, NewMessage(idempotency_key=key, **values))
        await session.flush()
        return message.id


async def _row(sessions: SessionFactory, message_id: int) -> Message:
    async with sessions() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def _deliver(activities: MessageActivities, message_id: int) -> DeliveryResult:
    result: DeliveryResult = await ActivityEnvironment().run(activities.deliver_message, message_id)
    return result


async def test_sent_exactly_once_even_when_called_twice(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    activities = _activities(sessions, settings)
    message_id = await _enqueue(sessions)

    first = await _deliver(activities, message_id)
    second = await _deliver(activities, message_id)  # a retried or duplicated activity task

    assert (first.status, first.already_sent) == (MessageStatus.SENT, False)
    assert (second.status, second.already_sent) == (MessageStatus.SENT, True)
    assert len(smtp_sink.received) == 1
    mail = smtp_sink.received[0]
    assert mail.rcpt_tos == ("bekannt@example.com",)
    assert mail.subject == "Ihre Anfrage zu W-1001"
    assert "vielen Dank für Ihre Anfrage" in mail.text
    assert mail.message["X-Immoflow-Key"] == "test:1:confirmation"
    row = await _row(sessions, message_id)
    assert row.status == MessageStatus.SENT
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.smtp_message_id == mail.message["Message-ID"]
    assert row.error is None


async def test_same_idempotency_key_is_one_message(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    first = await _enqueue(sessions, key="test:2:reminder:1")
    again = await _enqueue(sessions, key="test:2:reminder:1", subject="a different text, same business step")
    assert again == first
    assert (await _row(sessions, first)).subject == "Ihre Anfrage zu W-1001"


async def test_smtp_down_means_retrying_then_sent_once_it_is_back(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    message_id = await _enqueue(sessions)
    nobody_listens = settings.model_copy(update={"smtp_port": free_port(), "smtp_timeout_seconds": 5.0})

    with pytest.raises(Exception) as raised:
        await _deliver(_activities(sessions, nobody_listens), message_id)
    # Temporal retries whatever is not an ApplicationError marked non-retryable.
    assert not (isinstance(raised.value, ApplicationError) and raised.value.non_retryable)
    row = await _row(sessions, message_id)
    assert row.status == MessageStatus.RETRYING
    assert row.error
    assert row.sent_at is None
    assert smtp_sink.received == []

    result = await _deliver(_activities(sessions, settings), message_id)

    assert result.status == MessageStatus.SENT
    assert len(smtp_sink.received) == 1
    row = await _row(sessions, message_id)
    assert (row.status, row.attempts, row.error) == (MessageStatus.SENT, 2, None)


class _Refusing:
    """An SMTP server that answers RCPT or DATA with the given reply."""

    def __init__(self, stage: str, reply: str) -> None:
        self.stage, self.reply = stage, reply

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.stage == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        return self.reply if self.stage == "data" else "250 OK"


@pytest.fixture
def refusing_server(request: pytest.FixtureRequest) -> Iterator[int]:
    stage, reply = request.param
    port = free_port()
    controller = Controller(_Refusing(stage, reply), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.mark.parametrize(
    "refusing_server",
    [("rcpt", "550 5.1.1 No such user here"), ("data", "554 5.7.1 Message rejected as spam")],
    indirect=True,
    ids=["recipient-550", "data-554"],
)
async def test_permanent_refusal_fails_for_good(
    sessions: SessionFactory, settings: Settings, refusing_server: int
) -> None:
    message_id = await _enqueue(sessions)
    activities = _activities(sessions, settings.model_copy(update={"smtp_port": refusing_server}))

    with pytest.raises(ApplicationError) as raised:
        await _deliver(activities, message_id)

    assert raised.value.non_retryable
    assert raised.value.type == "PermanentDeliveryError"
    row = await _row(sessions, message_id)
    assert row.status == MessageStatus.FAILED
    assert row.error and ("550" in row.error or "554" in row.error or "refused" in row.error)

    # A later retry (or a duplicate task) does not try again either.
    with pytest.raises(ApplicationError) as again:
        await _deliver(activities, message_id)
    assert again.value.non_retryable
    assert (await _row(sessions, message_id)).attempts == 1


@pytest.mark.parametrize("refusing_server", [("data", "451 4.3.0 Try again later")], indirect=True, ids=["data-451"])
async def test_temporary_refusal_is_retried(sessions: SessionFactory, settings: Settings, refusing_server: int) -> None:
    message_id = await _enqueue(sessions)
    activities = _activities(sessions, settings.model_copy(update={"smtp_port": refusing_server}))

    with pytest.raises(Exception) as raised:
        await _deliver(activities, message_id)

    assert not (isinstance(raised.value, ApplicationError) and raised.value.non_retryable)
    assert (await _row(sessions, message_id)).status == MessageStatus.RETRYING


async def test_header_injection_stays_one_line(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    """Names and subjects come from portal inquiries: a line break must not smuggle in a header or recipient."""
    message_id = await _enqueue(
        sessions,
        recipient=formataddr(("Eve\r\nBcc: victim@example.com", "eve@example.com")),
        sender=formataddr(("Anna\nX-Injected: yes", "agent@immoflow.local")),
        subject="Ihre Anfrage\r\nBcc: victim@example.com\r\n\r\nGefälschter Text",
    )

    await _deliver(_activities(sessions, settings), message_id)

    assert len(smtp_sink.received) == 1
    mail = smtp_sink.received[0]
    assert mail.rcpt_tos == ("eve@example.com",)  # the only envelope recipient
    assert mail.message["Bcc"] is None
    assert mail.message["X-Injected"] is None
    subject = mail.message["Subject"]
    assert "\n" not in subject and "\r" not in subject
    assert subject == "Ihre Anfrage Bcc: victim@example.com Gefälschter Text"
    assert "Gefälschter Text" not in mail.text  # the "body" in the subject did not become the body
    row = await _row(sessions, message_id)
    assert "\n" not in row.recipient and "\n" not in (row.subject or "")


class SlowTransport:
    """An SMTP conversation that takes `seconds`; records the row's lease as the sender sees it mid-send."""

    def __init__(self, sessions: SessionFactory, seconds: float) -> None:
        self._sessions = sessions
        self._seconds = seconds
        self.leases: list[datetime | None] = []

    async def send(self, message: Message) -> str:
        deadline = asyncio.get_running_loop().time() + self._seconds
        while asyncio.get_running_loop().time() < deadline:
            self.leases.append((await _row(self._sessions, message.id)).lease_until)
            await asyncio.sleep(self._seconds / 6)
        return "<slow@example.com>"


async def test_slow_send_heartbeats_and_keeps_its_lease(sessions: SessionFactory) -> None:
    message_id = await _enqueue(sessions)
    transport = SlowTransport(sessions, seconds=1.2)
    activities = MessageActivities(sessions, {"email": transport}, lease=timedelta(seconds=0.4))
    heartbeats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: heartbeats.append(details)

    result: DeliveryResult = await env.run(activities.deliver_message, message_id)

    assert result.status == MessageStatus.SENT
    # Renewed four times per lease while the transport talked: Temporal hears from a live sender and a
    # second attempt cannot claim the row, yet a dead sender's claim would run out after 0.4 s.
    assert len(heartbeats) >= 3, heartbeats
    distinct = sorted({lease for lease in transport.leases if lease is not None})
    assert len(distinct) >= 3, transport.leases
    row = await _row(sessions, message_id)
    assert (row.status, row.attempts, row.lease_until) == (MessageStatus.SENT, 1, None)


async def test_expired_lease_of_a_dead_sender_is_taken_over(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink
) -> None:
    message_id = await _enqueue(sessions)
    async with sessions.begin() as session:  # what a worker killed mid-send leaves behind
        await session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status=MessageStatus.SENDING, attempts=1, lease_until=utcnow() - timedelta(seconds=1))
        )
    result = await _deliver(_activities(sessions, settings), message_id)
    assert result.status == MessageStatus.SENT
    assert len(smtp_sink.received) == 1
    assert (await _row(sessions, message_id)).attempts == 2


class HeldTransport:
    """An SMTP conversation that goes on until the test releases it; then the server has the mail."""

    def __init__(self) -> None:
        self.talking = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: list[int] = []

    async def send(self, message: Message) -> str:
        self.talking.set()
        await self.release.wait()
        self.sent.append(message.id)
        return f"<held-{message.id}@example.com>"


async def test_a_cancel_mid_send_lets_the_send_finish_and_be_recorded(sessions: SessionFactory) -> None:
    """A heartbeat timeout or a shutting-down worker cancels the attempt: had the cancel cut the conversation
    after the server's 250 and before the row said "sent", the next attempt would send the mail again."""
    message_id = await _enqueue(sessions)
    transport = HeldTransport()
    activities = MessageActivities(sessions, {"email": transport})
    env = ActivityEnvironment()
    attempt = asyncio.create_task(env.run(activities.deliver_message, message_id))
    await asyncio.wait_for(transport.talking.wait(), timeout=10)

    env.cancel()
    await asyncio.sleep(0.05)
    assert not attempt.done()  # the cancel waits for the conversation
    transport.release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(attempt, timeout=10)

    row = await _row(sessions, message_id)
    assert (row.status, row.lease_until) == (MessageStatus.SENT, None)
    assert row.smtp_message_id == f"<held-{message_id}@example.com>"
    retry = await _deliver(activities, message_id)  # Temporal's next attempt
    assert retry.already_sent
    assert transport.sent == [message_id]


async def test_sent_reaches_the_row_through_a_failing_write(
    sessions: SessionFactory, settings: Settings, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id = await _enqueue(sessions)
    activities = _activities(sessions, settings)
    finish = activities.delivery._finish
    failures: list[MessageStatus] = []

    async def busy_database_once(message_id: int, status: MessageStatus, **values: str | None) -> None:
        if status == MessageStatus.SENT and not failures:
            failures.append(status)
            raise OSError("database is locked")
        await finish(message_id, status, **values)

    monkeypatch.setattr(activities.delivery, "_finish", busy_database_once)

    result = await _deliver(activities, message_id)

    assert result.status == MessageStatus.SENT
    assert failures == [MessageStatus.SENT]
    assert (await _row(sessions, message_id)).status == MessageStatus.SENT
    assert len(smtp_sink.received) == 1
