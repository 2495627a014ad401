"""The SMS gateway boundary: an HTTP gateway for production, a sink that records SMS for development.

Both are `Transport`s of the outbox (messaging/outbox_delivery.py): the message row is claimed before sending,
so a retried activity does not send twice. The gateway also gets the row's idempotency key as
`Idempotency-Key` header and `reference`, so a gateway that deduplicates folds the remaining window.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from db.models import Message
from messaging.transport import PermanentDeliveryError, Transport
from settings import Settings

# One SMS is 160 GSM characters; longer texts are cut so that one answer costs exactly one SMS.
SMS_MAX_CHARS = 160
# Gateways answer these 4xx when they are overloaded or slow, not because the message is wrong.
RETRYABLE_4XX = frozenset({408, 425, 429})


class SmsGatewayError(RuntimeError):
    """A temporary gateway failure (5xx, rate limit): the activity retries."""


def sms_text(text: str) -> str:
    """Single-line text of at most one SMS."""
    flat = " ".join(text.split())
    return flat if len(flat) <= SMS_MAX_CHARS else flat[: SMS_MAX_CHARS - 1] + "…"


class HttpSmsTransport:
    """POSTs `{"to", "from", "text", "reference", "billing_account"}` as JSON with a bearer token."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if settings.sms_gateway_url is None:
            raise ValueError("IMMOFLOW_SMS_GATEWAY_URL is not set")
        self._url = str(settings.sms_gateway_url)
        self._token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        self._sender = settings.sms_sender
        self._timeout = settings.sms_gateway_timeout_seconds
        self._transport = transport  # tests hand in an httpx.MockTransport

    async def send(self, message: Message) -> str:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = {
            "to": message.recipient,
            "from": self._sender,
            "text": message.body_text,
            "reference": message.idempotency_key,
            "billing_account": message.billing_account,
        }
        # Timeouts and connection errors propagate as they are: retryable, the row stays claimed-then-retrying.
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
            response = await client.post(self._url, json=payload, headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return _provider_id(response) or message.idempotency_key
        detail = f"SMS gateway answered {status}: {response.text[:200]}"
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            raise PermanentDeliveryError(detail)  # bad number, bad request, bad token: retrying will not help
        raise SmsGatewayError(detail)


def _provider_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        for key in ("id", "message_id", "messageId"):
            if body.get(key) is not None:
                return str(body[key])
    return None


class DevSmsSink:
    """Records each SMS as `<dir>/<utc time>-<message id>.json` instead of sending it (shown at /dev/sms)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, message: Message) -> str:
        self._directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        record = {
            "message_id": message.id,
            "to": message.recipient,
            "from": message.sender,
            "text": message.body_text,
            "billing_account": message.billing_account,
            "cost_cents": message.cost_cents,
            "idempotency_key": message.idempotency_key,
            "recorded_at": now.isoformat(),
        }
        # One file per message: a second attempt replaces the first instead of showing two SMS.
        for old in self._directory.glob(f"*-{message.id:06d}.json"):
            old.unlink(missing_ok=True)
        path = self._directory / f"{now:%Y%m%dT%H%M%S%f}-{message.id:06d}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=1))
        os.replace(temporary, path)  # readers never see half a file
        return f"dev-sms-{message.id}"


def read_sms(directory: Path) -> list[dict[str, Any]]:
    """The recorded SMS, newest first; unreadable files are skipped."""
    records = []
    for path in sorted(directory.glob("*.json"), reverse=True):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def sms_transport(settings: Settings) -> Transport:
    """The gateway when one is configured; otherwise SMS are recorded in the data dir, never lost."""
    if settings.sms_gateway_url is not None:
        return HttpSmsTransport(settings)
    return DevSmsSink(settings.data_dir / "sms")
