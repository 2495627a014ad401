"""The development SMTP sink: accepts every mail, keeps it (memory and, optionally, .eml files).

`immoflow dev` runs it when IMMOFLOW_SMTP_HOST is unset and the web app shows its folder at /dev/mail;
tests use it as a real SMTP peer.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from starter.dev.config import free_port

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    received_at: datetime

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())


# Delivers one raw mail into a local mailbox (the dev stack's IMAP server); see SinkHandler.deliver_to.
Deliver = Callable[[bytes], Awaitable[None]]


class SinkHandler:
    def __init__(self, directory: Path | None = None, deliver_to: dict[str, Deliver] | None = None) -> None:
        self.directory = directory
        # In development, mail to the office mailbox lands in it too: the prospect's reply closes the loop.
        self.deliver_to = {address.lower(): deliver for address, deliver in (deliver_to or {}).items()}
        self.received: list[ReceivedMail] = []
        self._counter = itertools.count(1)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(str(r) for r in envelope.rcpt_tos),
            message=message,
            received_at=datetime.now(UTC),
        )
        self.received.append(mail)
        if self.directory is not None:
            stamp = mail.received_at.strftime("%Y%m%dT%H%M%S%f")
            name = f"{stamp}-{next(self._counter):06d}.eml"
            tmp = self.directory / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.rename(self.directory / name)  # readers never see half a file
        for recipient in {r.lower() for r in mail.rcpt_tos}:
            deliver = self.deliver_to.get(recipient)
            if deliver is not None:
                try:
                    await deliver(data)
                except Exception:  # the sink keeps the mail either way; /dev/mail shows it
                    log.exception("could not deliver a mail for %s into the local IMAP server", recipient)
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd in a background thread; `with SmtpSink() as sink:` gives host, port and received mails."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        directory: Path | None = None,
        deliver_to: dict[str, Deliver] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.handler = SinkHandler(directory, deliver_to)
        self._controller = Controller(self.handler, hostname=host, port=self.port)

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def read_mailbox(directory: Path) -> list[tuple[str, EmailMessage]]:
    """The .eml files of a sink directory, newest first, as (file name, parsed message)."""
    if not directory.exists():
        return []
    result = []
    for path in sorted(directory.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        result.append((path.name, message))
    return result
