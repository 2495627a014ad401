"""The mail server down for longer than the first retries, and one that drops the line after accepting a mail."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiosmtpd.smtp import SMTP, Envelope, Session

from benchmarks.measure import until
from benchmarks.stack import ProcessStack
from db.models import MessageStatus
from starter.dev.smtp_sink import SinkHandler
from tests.chaos.support import (
    Inspector,
    assert_exactly_once,
    configure,
    delivery_windows,
    mail_key,
    percentile,
    plan,
    submit,
)


async def test_smtp_down_then_back_mails_late_none_lost_none_doubled(stack: ProcessStack, inspector: Inspector) -> None:
    await stack.start()
    await configure(stack, followup_interval="PT5S", followup_attempts=1, final_notice="none")
    stack.stop_sink()
    planned = plan(known=8, expires=4)
    await submit(stack, planned)

    # Down until every mail failed its first try and both early retries (5 s, then 10 s later: SEND_RETRY).
    async def past_first_retries() -> bool:
        rows = await inspector.messages()
        return len(rows) == len(planned) and min(row.attempts for row in rows) >= 3

    await until(past_first_retries, 90, "three failed attempts per mail")
    assert stack.mail.received == []
    assert all(row.status != MessageStatus.SENT for row in await inspector.messages())
    stack.start_sink()

    await inspector.wait_final(planned, within=150)
    await assert_exactly_once(inspector, planned, attempts=1, notice="none")


class AcceptThenHangUp(SinkHandler):
    """Keeps the mail, then cuts the connection instead of answering 250 — once per message.

    The client cannot know the mail arrived: from its side this is the same as a server that died before
    accepting it, so it must try again. A second copy is what the protocol forces; a third would be ours.
    """

    def __init__(self, base: SinkHandler) -> None:
        super().__init__(base.directory)
        self.received = base.received
        self.hung_up: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        key = mail_key(self.received[-1])
        if not self.hung_up[key]:
            self.hung_up[key] += 1
            transport = server.transport
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
        return reply


async def test_lost_reply_after_data_gives_exactly_one_second_copy(stack: ProcessStack, inspector: Inspector) -> None:
    await stack.start()
    await configure(stack, followup_interval="PT4S", followup_attempts=1, final_notice="none")
    stack.stop_sink()
    stack.mail = handler = AcceptThenHangUp(stack.mail)
    stack.start_sink()
    planned = plan(known=6, expires=3)

    await submit(stack, planned)
    await inspector.wait_final(planned, within=120)

    copies = await assert_exactly_once(inspector, planned, attempts=1, notice="none", window=set(handler.hung_up))
    assert set(copies.values()) == {2}, copies  # every mail: the hung-up copy and exactly one retry
    assert all(row.attempts == 2 for row in await inspector.messages())
    windows = await delivery_windows(inspector)
    print(
        f"\nlost reply after DATA: {len(copies)} mails, each delivered exactly twice (same Message-ID);"
        f" SMTP-accepted → marked-sent p50 {percentile(windows, 0.5) * 1000:.1f} ms,"
        f" max {max(windows) * 1000:.1f} ms"
    )
