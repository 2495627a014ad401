"""Reading a request body inside ASGI middleware, then handing it on as if unread (CSRF check, size caps)."""

from __future__ import annotations

from starlette.types import Message, Receive


async def read_capped(receive: Receive, cap: int) -> bytes | None:
    """The whole body, or None as soon as it passes CAP bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields BODY once, then the real channel (e.g. http.disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
