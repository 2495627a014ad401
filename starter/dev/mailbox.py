"""The dev stack's office mailbox: a pymap IMAP server (in memory) and the demo mailbox pointed at it.

Each start makes a fresh password (the server forgets everything when it stops, so there is nothing to
protect across starts) and stores it encrypted like any office would. The server's new UIDVALIDITY on
each start is exactly the case the mailbox watcher handles: the UID count starts over, nothing repeats.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from db.models import Mailbox
from db.session import SessionFactory
from messaging.imap_client import ImapConfig, append
from messaging.mailbox_secrets import encrypt_password
from settings import Settings, venv_binary
from starter.dev.config import LOCAL
from starter.dev.smtp_sink import Deliver


def imap_command(port: int, user: str, password: str) -> list[str]:
    # "--option=value": a generated password may begin with "-", which argparse would take for an option.
    return [venv_binary("pymap"), "--host", LOCAL, "--port", str(port), "--no-tls", "dict",
            f"--demo-user={user}", f"--demo-password={password}"]  # fmt: skip


def new_password() -> str:
    return secrets.token_urlsafe(18)


async def point_demo_mailbox(sessions: SessionFactory, settings: Settings, address: str, config: ImapConfig) -> bool:
    """Configure and enable the demo mailbox for CONFIG; False when there is no such mailbox (--no-demo)."""
    async with sessions.begin() as session:
        mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == address))
        if mailbox is None:
            return False
        mailbox.imap_host, mailbox.imap_port, mailbox.imap_tls = config.host, config.port, config.tls
        mailbox.imap_user = config.user
        mailbox.imap_password_encrypted = encrypt_password(settings, config.password)
        mailbox.folder, mailbox.processed_action, mailbox.enabled = "INBOX", "flag", True
        mailbox.last_error = None
        return True


def deliverer(config: ImapConfig) -> Deliver:
    async def deliver(raw: bytes) -> None:
        await append(config, raw)

    return deliver
