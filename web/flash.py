"""One-time notices shown on the next page ("Gespeichert.", "Nicht möglich: …"), kept in the session.

Redirect-after-POST loses the handler's result; the flash carries it to the page the browser loads next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import HTTPConnection

Kind = Literal["ok", "error", "info"]
_KEY = "flash"


@dataclass(frozen=True)
class Flash:
    kind: Kind
    text: str


def flash(connection: HTTPConnection, text: str, kind: Kind = "ok") -> None:
    if "session" in connection.scope:
        connection.session[_KEY] = [*connection.session.get(_KEY, []), [kind, text]]


def pop_flashes(connection: HTTPConnection) -> list[Flash]:
    if "session" not in connection.scope or _KEY not in connection.session:
        return []
    return [Flash(kind, text) for kind, text in connection.session.pop(_KEY)]
