"""What can start an automation: one module per trigger, each defining `TRIGGER`.

A trigger names the domain event kind it listens to, the facts conditions may test (with German labels
for the admin form) and how to read those facts from the database. Adding a trigger is adding one module
here (and emitting its event where the change happens); the registry finds it by itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import DomainEvent

YES_NO: tuple[tuple[str, str], ...] = (("true", "ja"), ("false", "nein"))
# db.models.ContactStatus values with the words the office uses.
STATUS_LABELS: dict[str, str] = {
    "prospect": "Interessent",
    "customer": "Kunde",
    "owner": "Eigentümer",
    "agent": "Makler/Mitarbeiter",
    "archived": "archiviert",
}
CONTACT_STATUSES: tuple[tuple[str, str], ...] = tuple(STATUS_LABELS.items())


@dataclass(frozen=True)
class FactField:
    name: str
    label: str
    # Suggested values (value, label) for the form; conditions may still use any value.
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EventData:
    """The domain event as automations see it, detached from any session."""

    id: int
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    depth: int = 0


class Trigger(ABC):
    kind: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[FactField, ...]]

    @abstractmethod
    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        """The event's facts (JSON values). Read from the database so conditions see the current row."""

    def dedupe_key(self, event: EventData) -> str:
        """What "the same occasion" is for idempotency keys (mails); the event itself by default."""
        return f"event:{event.id}"

    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}


@cache
def triggers() -> dict[str, Trigger]:
    found: dict[str, Trigger] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        trigger = importlib.import_module(f"{__name__}.{module.name}").TRIGGER
        if not isinstance(trigger, Trigger):
            raise TypeError(f"{module.name}.TRIGGER is not a Trigger")
        found[trigger.kind] = trigger
    return dict(sorted(found.items(), key=lambda item: item[1].label))


def get_trigger(kind: str) -> Trigger:
    try:
        return triggers()[kind]
    except KeyError:
        raise KeyError(f"unbekannter Auslöser {kind!r}") from None


def payload_int(event: EventData, name: str) -> int | None:
    value = event.payload.get(name)
    return int(value) if value is not None else None


def event_data(event: DomainEvent) -> EventData:
    return EventData(id=event.id, kind=event.kind, payload=dict(event.payload), depth=event.depth)
