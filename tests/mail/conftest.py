"""Mail tests: a real IMAP server (pymap) per test, the office's data, and its mailbox pointed at the server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Mailbox
from db.session import SessionFactory
from messaging.imap_client import ImapConfig
from messaging.mailbox_secrets import encrypt_password
from settings import Settings
from tests import factories
from tests.imap_server import PASSWORD, USER, Relay, pymap_server


@pytest.fixture
def imap_port() -> Iterator[int]:
    with pymap_server() as port:
        yield port


@pytest.fixture
async def relay(imap_port: int) -> AsyncIterator[Relay]:
    relay = Relay(imap_port)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


@pytest.fixture
def imap(relay: Relay) -> ImapConfig:
    """How the test itself talks to the server (APPEND): directly, not through the relay."""
    return ImapConfig(host="127.0.0.1", port=relay.target_port, tls="none", user=USER, password=PASSWORD)


@pytest.fixture
async def office(sessions: SessionFactory, settings: Settings, relay: Relay) -> dict[str, Any]:
    data = await factories.office(sessions)
    async with sessions.begin() as session:
        mailbox = await session.scalar(select(Mailbox).where(Mailbox.id == data["mailbox"].id))
        assert mailbox is not None
        mailbox.imap_host, mailbox.imap_port, mailbox.imap_tls = "127.0.0.1", relay.port, "none"
        mailbox.imap_user = USER
        mailbox.imap_password_encrypted = encrypt_password(settings, PASSWORD)
        mailbox.enabled = True
    return data
