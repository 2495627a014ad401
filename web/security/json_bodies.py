"""JSON bodies with lone UTF-16 surrogates ("\\ud800") are refused with 422 before any handler sees them.

JSON may escape a surrogate without its pair; Python decodes it into a str that neither the database nor a
UTF-8 response can hold, so every handler would fail later with a 500. Intake stores its raw body first
and refuses such a body itself (starter/intake/payload.py), so it is left alone here.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starter.intake.payload import has_lone_surrogate
from web.texts import t

# Intake keeps every payload, even a refused one: it reads and judges its own body.
SELF_JUDGING_PATHS = ("/api/inquiries",)


def without_surrogates(value: Any) -> Any:
    """VALUE with every unpaired surrogate replaced by U+FFFD, for echoing input back in an error."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if has_lone_surrogate(value) else value
    if isinstance(value, list | tuple):
        return [without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_surrogates(key): without_surrogates(item) for key, item in value.items()}
    return value


def _surrogate_in(body: bytes) -> bool:
    if b"\\u" not in body:  # a raw surrogate cannot be valid UTF-8; only an escape can carry one
        return False
    try:
        return has_lone_surrogate(json.loads(body))
    except (ValueError, RecursionError):
        return False  # not JSON at all: the route's own validation says so


class RefuseLoneSurrogates:
    """Pure ASGI middleware: buffers a JSON request body, refuses it when it holds a lone surrogate."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        if str(scope["path"]).startswith(SELF_JUDGING_PATHS):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _surrogate_in(body):
            await _refuse(send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


async def _refuse(send: Send) -> None:
    detail = [{"type": "string_unicode", "loc": ["body"], "msg": t("validation.lone_surrogate")}]
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
