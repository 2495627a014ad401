"""What a transport is to the outbox: something that sends one message and says whether a refusal is final."""

from __future__ import annotations

from typing import Protocol

from db.models import Message


class PermanentDeliveryError(Exception):
    """The transport refused the message for good (unknown recipient, invalid number)."""


class Transport(Protocol):
    async def send(self, message: Message) -> str:
        """Send and return the transport's id for the message; raise PermanentDeliveryError for 5xx."""
        ...
