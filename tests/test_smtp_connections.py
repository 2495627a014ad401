"""SMTP sessions reused between mails (messaging/smtp_connections.py), against a real SMTP peer."""

from __future__ import annotations

import asyncio

from activities.messages import SmtpTransport
from db.models import Message
from settings import Settings
from starter.dev.smtp_sink import SmtpSink


def _message(number: int) -> Message:
    return Message(
        id=number,
        channel="email",
        idempotency_key=f"test:{number}:pool",
        sender="Anna Agent <agent@immoflow.local>",
        recipient=f"Interessent {number} <p{number}@example.com>",
        subject=f"Mail {number}",
        body_text="Guten Tag",
        attachments=[],
    )


async def test_mails_in_a_row_share_one_session(settings: Settings, smtp_sink: SmtpSink) -> None:
    transport = SmtpTransport(settings)

    for number in range(1, 6):
        await transport.send(_message(number))

    assert [mail.subject for mail in smtp_sink.received] == [f"Mail {n}" for n in range(1, 6)]
    assert transport.connections.opened == 1


async def test_parallel_mails_open_at_most_the_configured_sessions(settings: Settings, smtp_sink: SmtpSink) -> None:
    transport = SmtpTransport(settings.model_copy(update={"smtp_connections": 2}))

    await asyncio.gather(*(transport.send(_message(number)) for number in range(1, 13)))

    assert sorted(mail.subject for mail in smtp_sink.received) == sorted(f"Mail {n}" for n in range(1, 13))
    assert transport.connections.opened == 2


async def test_a_session_the_server_dropped_is_replaced_not_a_failed_mail(settings: Settings) -> None:
    first = SmtpSink().start()
    transport = SmtpTransport(settings.model_copy(update={"smtp_port": first.port}))
    try:
        await transport.send(_message(1))
    finally:
        first.stop()  # the server goes away while the session sits in the pool
    second = SmtpSink(port=first.port).start()
    try:
        await transport.send(_message(2))
    finally:
        second.stop()

    assert [mail.subject for mail in first.received] == ["Mail 1"]
    assert [mail.subject for mail in second.received] == ["Mail 2"]
    assert transport.connections.opened == 2
