"""A small typed layer over aioimaplib: what the mailbox activity needs from an IMAP server, nothing more.

aioimaplib speaks the protocol; this module only turns its `Response(result, lines)` into values and
errors: ImapLoginError (wrong credentials: the office must act) and ImapError (anything else, retried).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import aioimaplib

CONNECT_TIMEOUT_SECONDS = 15.0  # a mail server that does not greet within this is as good as down
# aioimaplib puts no timeout on some commands (UID STORE) and leaves them pending when the connection
# drops; every command is therefore raced against this and against the connection-lost callback.
COMMAND_TIMEOUT_SECONDS = 60.0
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_FETCH_UID = re.compile(rb"UID (\d+)")


T = TypeVar("T")


class ImapError(Exception):
    """The server refused or the connection failed; worth retrying."""


class ImapLoginError(ImapError):
    """LOGIN refused: wrong user or password. Shown on the mailbox page; retried with backoff."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: str  # "tls" (implicit, port 993) or "none"
    user: str
    password: str
    folder: str = "INBOX"

    def __repr__(self) -> str:  # never the password, not even in a traceback's locals
        return f"ImapConfig(host={self.host!r}, port={self.port}, tls={self.tls!r}, user={self.user!r})"


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None


def _check(response: aioimaplib.Response, what: str) -> list[bytes | bytearray]:
    if response.result != "OK":
        text = b" ".join(line for line in response.lines if isinstance(line, bytes | bytearray))
        raise ImapError(f"IMAP {what}: {response.result} {text.decode('utf-8', 'replace')[:300]}")
    lines: list[bytes | bytearray] = response.lines
    return lines


class ImapSession:
    """One logged-in connection with one selected folder. Use as `async with ImapSession(config) as imap`."""

    def __init__(self, config: ImapConfig) -> None:
        self._config = config
        self._client: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()
        self.folder: FolderState | None = None

    async def __aenter__(self) -> ImapSession:
        c = self._config
        try:
            if c.tls == "tls":
                client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                    host=c.host, port=c.port, timeout=CONNECT_TIMEOUT_SECONDS, ssl_context=ssl.create_default_context()
                )
            else:
                client = aioimaplib.IMAP4(host=c.host, port=c.port, timeout=CONNECT_TIMEOUT_SECONDS)
            client.protocol.conn_lost_cb = lambda exc: self._lost.set()
            await client.wait_hello_from_server()
        except (OSError, TimeoutError) as exc:
            raise ImapError(f"IMAP {c.host}:{c.port} nicht erreichbar ({type(exc).__name__}: {exc})") from None
        self._client = client
        try:
            login = await self._call("LOGIN", client.login(c.user, c.password))
        except (OSError, TimeoutError, aioimaplib.Abort, ImapError) as exc:
            await self.close()
            raise ImapError(f"IMAP-Anmeldung abgebrochen ({type(exc).__name__})") from None
        if login.result != "OK":
            await self.close()
            raise ImapLoginError(f"IMAP-Anmeldung als {c.user} abgelehnt")
        self.folder = await self.select(c.folder)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _call(self, what: str, command: Awaitable[T], seconds: float = COMMAND_TIMEOUT_SECONDS) -> T:
        task = asyncio.ensure_future(command)
        lost = asyncio.ensure_future(self._lost.wait())
        done, _ = await asyncio.wait({task, lost}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        if task in done:
            return task.result()
        task.cancel()
        if self._lost.is_set():
            raise ImapError(f"IMAP {what}: Verbindung zum Server verloren")
        raise ImapError(f"IMAP {what}: keine Antwort nach {seconds:.0f} s")

    @property
    def client(self) -> aioimaplib.IMAP4:
        if self._client is None:
            raise ImapError("not connected")
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None or self._lost.is_set():
            return
        try:
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(client.logout(), 5)
        except Exception:  # a connection that is already gone needs no goodbye
            return

    def supports_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    async def select(self, folder: str) -> FolderState:
        lines = _check(await self._call("SELECT", self.client.select(folder)), f"SELECT {folder}")
        joined = b"\n".join(bytes(line) for line in lines)
        validity = _UIDVALIDITY.search(joined)
        if validity is None:
            raise ImapError(f"IMAP SELECT {folder}: no UIDVALIDITY")
        uidnext = _UIDNEXT.search(joined)
        return FolderState(int(validity.group(1)), int(uidnext.group(1)) if uidnext else None)

    async def uids_after(self, last_uid: int) -> list[int]:
        # "n:*" always matches the newest message even when its UID is below n (RFC 3501), hence the filter.
        lines = _check(await self._call("SEARCH", self.client.uid_search(f"UID {last_uid + 1}:*")), "UID SEARCH")
        found: list[int] = []
        for line in lines[:-1]:
            found.extend(int(part) for part in bytes(line).split() if part.isdigit())
        return sorted(uid for uid in set(found) if uid > last_uid)

    async def fetch(self, uid: int) -> bytes | None:
        """The message byte for byte (BODY.PEEK: reading it does not set \\Seen), None when it is gone."""
        lines = _check(await self._call("FETCH", self.client.uid("fetch", str(uid), "(UID BODY.PEEK[])")), "UID FETCH")
        for index, line in enumerate(lines):
            if isinstance(line, bytearray) and index > 0:
                header = bytes(lines[index - 1])
                match = _FETCH_UID.search(header)
                if match is None or int(match.group(1)) == uid:
                    return bytes(line)
        return None

    async def mark_processed(self, uid: int, action: str, target: str | None) -> None:
        if action == "move" and target:
            if self.client.has_capability("MOVE"):
                _check(await self._call("MOVE", self.client.uid("move", str(uid), target)), "UID MOVE")
                return
            _check(await self._call("COPY", self.client.uid("copy", str(uid), target)), "UID COPY")
            _check(await self._call("STORE", self.client.uid("store", str(uid), "+FLAGS", r"(\Deleted)")), "STORE")
            _check(await self._call("EXPUNGE", self.client.expunge()), "EXPUNGE")
            return
        _check(await self._call("STORE", self.client.uid("store", str(uid), "+FLAGS", r"(\Seen \Flagged)")), "STORE")

    async def ensure_folder(self, folder: str) -> None:
        response = await self._call("CREATE", self.client.create(folder))
        # NO [ALREADYEXISTS] is fine; any other refusal shows up at the first MOVE.
        del response

    async def wait_for_news(self, seconds: float) -> bool:
        """IDLE until the server reports a change or SECONDS pass; True when something happened."""
        client = self.client
        idle = await self._call("IDLE", client.idle_start(timeout=seconds))
        changed = False
        try:
            while True:
                push = await self._call("IDLE", client.wait_server_push(timeout=seconds), seconds + 5)
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                pushed: Sequence[object] = push if isinstance(push, list) else [push]
                if any(b"EXISTS" in bytes(x) for x in pushed if isinstance(x, bytes | bytearray)):
                    changed = True
                    break
        except TimeoutError:
            pass
        finally:
            if not self._lost.is_set():
                if client.has_pending_idle():
                    client.idle_done()
                await self._call("DONE", idle, CONNECT_TIMEOUT_SECONDS)
        return changed


async def append(config: ImapConfig, raw: bytes, folder: str | None = None) -> None:
    """Put RAW into FOLDER (default: the configured one): the dev stack's mail drop and the tests use it."""
    async with ImapSession(config) as imap:
        _check(await imap._call("APPEND", imap.client.append(raw, mailbox=folder or config.folder)), "APPEND")
