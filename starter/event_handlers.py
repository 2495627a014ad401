"""Which domain event goes to which workflow: the dispatcher's routing table.

Each feature adds its handlers to HANDLERS; a handler must be idempotent (events can be redelivered).
"""

from __future__ import annotations

from collections import defaultdict

from starter.dispatcher import EventHandler

HANDLERS: defaultdict[str, list[EventHandler]] = defaultdict(list)


def register(kind: str, handler: EventHandler) -> None:
    HANDLERS[kind].append(handler)


def load_all() -> None:
    """Import the modules that register handlers (kept explicit so the routing table is easy to find)."""
    from starter import automation_events, inquiry_events, lead_events, mail_events, slot_events  # noqa: F401
