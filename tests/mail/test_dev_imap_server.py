"""The dev stack's IMAP server takes the password `immoflow dev` generates for it, whatever its first character."""

from __future__ import annotations

from messaging.imap_client import ImapConfig, ImapSession
from tests.imap_server import USER, pymap_server


async def test_a_generated_password_starting_with_a_dash_still_logs_in() -> None:
    # secrets.token_urlsafe gives "-" as the first character once in 64 starts: pymap's argparse read it as
    # an option, exited with 2 and stopped the whole dev stack.
    password = "-Qx3_generated"
    with pymap_server(USER, password) as port:
        config = ImapConfig(host="127.0.0.1", port=port, tls="none", user=USER, password=password)
        async with ImapSession(config) as session:
            assert session.client is not None
