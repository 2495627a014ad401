"""Signed, expiring links for prospects (confirmation, time slots), each bound to one workflow."""

from __future__ import annotations

import time
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel


class LinkError(ValueError):
    """Why a link cannot be used; `code` selects the page the prospect sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LinkClaims(BaseModel):
    workflow_id: str
    nonce: str
    expires_at: float


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        # The salt binds a token to its purpose: a confirmation token is no time-slot token.
        return URLSafeSerializer(self._secret_key, salt=f"immoflow.{purpose}")

    def sign(self, purpose: str, *, workflow_id: str, nonce: str, expires_at: datetime) -> str:
        claims = LinkClaims(workflow_id=workflow_id, nonce=nonce, expires_at=expires_at.timestamp())
        return str(self._serializer(purpose).dumps(claims.model_dump()))

    def verify(self, purpose: str, token: str, *, now: float | None = None) -> LinkClaims:
        try:
            data = self._serializer(purpose).loads(token)
            claims = LinkClaims.model_validate(data)
        except (BadSignature, ValueError) as exc:
            raise LinkError("invalid", "Dieser Link ist ungültig.") from exc
        if (now if now is not None else time.time()) > claims.expires_at:
            raise LinkError("expired", "Dieser Link ist abgelaufen.")
        return claims


def lead_link(public_base_url: str, lead_id: int) -> str:
    """Where the reminder points: the lead's page in the office (/leads/{id}: phase, overdue state, actions)."""
    return f"{public_base_url}/leads/{lead_id}"
