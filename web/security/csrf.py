"""CSRF protection for every form of the office UI.

How to use it in a page (nothing else is needed, the check is central):
- inside every `<form method="post">` of a template rendered with `templates.TemplateResponse`:
  `{{ csrf_field() }}` (a hidden input named `csrf_token`);
- for `fetch()` calls: send the header `X-CSRF-Token` with the value of `<meta name="csrf-token">`
  (base.html renders it; `immoflowFetch()` in /static/office.js does both);
- in Python: `csrf_token(request)`.

`web.security.auth.AuthMiddleware` checks the token on every unsafe request (POST, PUT, PATCH, DELETE) that a
browser session authorises, before any handler runs. Requests authorised by a bearer token carry no ambient
browser credentials and are not checked; prospect pages (/confirm, /slots) are protected by their link token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from markupsafe import Markup, escape
from starlette.requests import HTTPConnection, Request
from starlette.types import Receive, Scope

from web.security.bodies import read_capped, replaying

SESSION_KEY = "csrf"
FIELD_NAME = "csrf_token"
HEADER_NAME = "x-csrf-token"
# A form of the office UI is a few KiB; refusing large bodies here keeps the check from buffering uploads.
MAX_FORM_BYTES = 1024 * 1024


class BodyTooLargeError(Exception):
    pass


def _session(connection: HTTPConnection) -> dict[str, Any] | None:
    # Apps built without the session middleware (narrow test apps) have no session: no token, no form field.
    if "session" not in connection.scope:
        return None
    session: dict[str, Any] = connection.session
    return session


def csrf_token(connection: HTTPConnection) -> str:
    """This session's token, created on first use (so a page that never shows a form sets no cookie)."""
    session = _session(connection)
    if session is None:
        return ""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def csrf_field(connection: HTTPConnection) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD_NAME, escape(csrf_token(connection)))


def rotate_csrf_token(connection: HTTPConnection) -> None:
    """A new token at login and logout, so a token seen before authentication is worthless after it."""
    session = _session(connection)
    if session is not None:
        session[SESSION_KEY] = secrets.token_urlsafe(32)


def token_matches(session: Mapping[str, Any] | None, submitted: str | None) -> bool:
    expected = session.get(SESSION_KEY) if session is not None else None
    if not isinstance(expected, str) or not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


async def submitted_token(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The token a request carries (header, else form field) and a `receive` that replays what was read.

    The body is read only for form posts without the header, and then handed on unchanged to the handler.
    """
    headers = Request(scope).headers
    header = headers.get(HEADER_NAME)
    if header:
        return header, receive
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None, receive
    body = await _read_body(receive)
    replay = replaying(body, receive)
    if content_type == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get(FIELD_NAME)
        return (values[0] if values else None), replay
    request = Request(scope, replaying(body, receive))
    form = await request.form()
    try:
        value = form.get(FIELD_NAME)
        return (value if isinstance(value, str) else None), replay
    finally:
        await form.close()


async def _read_body(receive: Receive) -> bytes:
    body = await read_capped(receive, MAX_FORM_BYTES)
    if body is None:
        raise BodyTooLargeError
    return body
