"""Intake: store the raw body, parse it, record the inquiry with its event, start its workflow.

The order is the guarantee. (1) The raw body is committed before anything can fail, so nothing a portal
sent is lost. (2) A body that cannot be read is quarantined with the reason the caller gets. (3) The inquiry
and its `inquiry.received` event commit together (transactional outbox), once per (source, external id).
(4) Starting the workflow is best effort: if Temporal is down, the dispatcher delivers the event later and
starts it then, with the same business-key workflow ID, so a second start is a no-op.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.events import InquiryReceived, record_event
from db.models import Inquiry, InquiryStatus, InquiryStep, Mailbox, QuarantinedPayload, RawPayload
from db.session import SessionFactory
from starter.intake.payload import DEFAULT_TIME_ZONE, InquiryPayload, PayloadError
from workflows.inquiry_models import workflow_id_for

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # a portal inquiry is a few KiB; anything near this is a mistake or an attack
OVERSIZE_KEPT_BYTES = 64 * 1024  # enough of an oversized body to see what it was, without storing all of it
WORKFLOW_START_TIMEOUT_SECONDS = 5.0  # the caller waits for this at most; the dispatcher retries later
RECEIVED_EVENT = InquiryReceived.KIND
CHANNEL_JSON = "api-json"
CHANNEL_OPENIMMO = "openimmo"
# Bodies that are not valid UTF-8 text (or hold NUL, which PostgreSQL text refuses) are kept byte for byte.
BASE64_MARKER = "; immoflow-body=base64"


class IntakeRejected(Exception):  # noqa: N818 - a refusal, not an error of ours
    """The payload was stored and quarantined; tell the caller STATUS_CODE and REASON."""

    def __init__(self, status_code: int, reason: str, *, quarantine_id: int, raw_payload_id: int) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason
        self.quarantine_id = quarantine_id
        self.raw_payload_id = raw_payload_id


@dataclass(frozen=True)
class WorkflowStart:
    """What starting an inquiry's workflow needs: IDs only, the workflow loads the rest."""

    inquiry_id: int
    workflow_id: str
    source: str
    property_ref: str | None

    @classmethod
    def from_event(cls, payload: dict[str, Any]) -> WorkflowStart:
        return cls(
            inquiry_id=int(payload["inquiry_id"]),
            workflow_id=str(payload["workflow_id"]),
            source=str(payload["source"]),
            property_ref=payload.get("property_ref"),
        )


# Returns True when this call started the workflow, False when it was running or ran already.
WorkflowStarter = Callable[[WorkflowStart], Awaitable[bool]]
Parser = Callable[[bytes], InquiryPayload]


@dataclass(frozen=True)
class RawBody:
    channel: str
    data: bytes
    content_type: str | None = None
    remote_addr: str | None = None


@dataclass(frozen=True)
class IntakeResult:
    inquiry_id: int
    status: str
    workflow_id: str
    duplicate: bool
    raw_payload_id: int
    # True: started now; False: was already running or done; None: not started (Temporal unreachable).
    workflow_started: bool | None


class IntakeService:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        start_workflow: WorkflowStarter | None = None,
        time_zone: str = DEFAULT_TIME_ZONE,
        default_mailbox: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._start_workflow = start_workflow
        self.time_zone = time_zone
        self._default_mailbox = default_mailbox

    async def submit(self, raw: RawBody, parse: Parser) -> IntakeResult:
        """Store RAW, parse it with PARSE and record the inquiry; IntakeRejected when it cannot be read."""
        raw_id = await self._store_raw(raw.channel, raw.data, raw.content_type, raw.remote_addr)
        try:
            payload = parse(raw.data)
            inquiry_id, status, workflow_id, duplicate = await self._record(payload, raw_id)
        except PayloadError as exc:
            raise await self._quarantine(raw_id, exc.status_code, exc.reason) from None
        except Exception as exc:
            if isinstance(exc, DBAPIError):
                raise  # the database is down or refused: 503 from the app, the raw row is already safe
            # A parser bug must not turn into a 500 and lose the caller's payload from view.
            log.exception("intake: raw payload %s could not be parsed", raw_id)
            raise await self._quarantine(
                raw_id, 400, f"The body could not be read ({type(exc).__name__}: {exc})."[:1000]
            ) from None
        started = await self._ensure_workflow(
            WorkflowStart(inquiry_id, workflow_id, payload.source, payload.property_ref)
        )
        return IntakeResult(inquiry_id, status, workflow_id, duplicate, raw_id, started)

    async def reject_oversized(self, raw: RawBody, *, declared_length: int | None) -> NoReturn:
        """Keep the beginning of a body over MAX_BODY_BYTES in quarantine and refuse it with 413."""
        kept = raw.data[:OVERSIZE_KEPT_BYTES]
        size = f"{declared_length} bytes" if declared_length is not None else f"more than {MAX_BODY_BYTES} bytes"
        reason = (
            f"The body is too large ({size}); the limit is {MAX_BODY_BYTES // 1024} KiB. "
            f"Only its first {len(kept)} bytes were kept (in quarantine), the rest was not read."
        )
        raw_id = await self._store_raw(raw.channel, kept, raw.content_type, raw.remote_addr, truncated=True)
        raise await self._quarantine(raw_id, 413, reason)

    async def _store_raw(
        self, channel: str, data: bytes, content_type: str | None, remote_addr: str | None, *, truncated: bool = False
    ) -> int:
        body, content_type = _storable(data, content_type, truncated=truncated)
        async with self._sessions.begin() as session:
            raw = RawPayload(channel=channel, content_type=content_type, body=body, remote_addr=remote_addr)
            session.add(raw)
            await session.flush()
            return raw.id

    async def _quarantine(self, raw_id: int, status_code: int, reason: str) -> IntakeRejected:
        async with self._sessions.begin() as session:
            quarantined = QuarantinedPayload(raw_payload_id=raw_id, reason=reason)
            session.add(quarantined)
            await session.flush()
            quarantine_id = quarantined.id
        # The reason may quote personal data; it stays in the database, the log gets the IDs.
        log.info("intake: raw payload %s quarantined as #%s (HTTP %s)", raw_id, quarantine_id, status_code)
        return IntakeRejected(status_code, reason, quarantine_id=quarantine_id, raw_payload_id=raw_id)

    async def _record(self, payload: InquiryPayload, raw_id: int) -> tuple[int, str, str, bool]:
        """Insert the inquiry and its event in one transaction, or find the one with the same business key."""
        existing = await self._find(payload)
        if existing is not None:
            return (*existing, True)
        payload = await self._with_known_mailbox(payload)
        workflow_id = workflow_id_for(payload.source, payload.external_id)
        try:
            async with self._sessions.begin() as session:
                inquiry = _new_inquiry(payload, raw_id, workflow_id)
                session.add(inquiry)
                await session.flush()
                _add_received_step(session, inquiry)
                record_event(
                    session,
                    InquiryReceived(
                        inquiry_id=inquiry.id,
                        source=inquiry.source,
                        property_ref=inquiry.property_ref,
                        mailbox=inquiry.mailbox_address,
                        workflow_id=workflow_id,
                    ),
                )
                return inquiry.id, inquiry.status, workflow_id, False
        except IntegrityError:
            # The same inquiry arrived twice at the same moment and the other request won the insert.
            existing = await self._find(payload)
            if existing is None:
                # Only another business key with the same workflow ID gets here (source slugs prevent it).
                raise PayloadError(
                    f"Another inquiry already uses the workflow ID {workflow_id!r}.", status_code=409
                ) from None
            return (*existing, True)

    async def _with_known_mailbox(self, payload: InquiryPayload) -> InquiryPayload:
        """PAYLOAD filed under a mailbox of this office: its own, else the default; PayloadError otherwise.

        Without one the property check could only end the inquiry `ignored`, hidden from the dashboard:
        an inquiry accepted and then silently dropped. Refused here instead, naming `mailbox`."""
        address = payload.mailbox or (self._default_mailbox or "").strip().lower() or None
        if address is None:
            raise PayloadError(
                "Invalid inquiry: mailbox is missing (the receiving mailbox; or set IMMOFLOW_DEFAULT_INTAKE_MAILBOX)."
            )
        async with self._sessions() as session:
            known = await session.scalar(select(Mailbox.id).where(Mailbox.address == address))
        if known is None:
            raise PayloadError(f"Invalid inquiry: mailbox {address!r} is not a mailbox of this office.")
        return payload if payload.mailbox == address else payload.model_copy(update={"mailbox": address})

    async def _find(self, payload: InquiryPayload) -> tuple[int, str, str] | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Inquiry.id, Inquiry.status, Inquiry.workflow_id).where(
                        Inquiry.source == payload.source, Inquiry.external_id == payload.external_id
                    )
                )
            ).one_or_none()
        return None if row is None else (row.id, row.status, row.workflow_id)

    async def _ensure_workflow(self, start: WorkflowStart) -> bool | None:
        # Also for duplicates: a resend after a Temporal outage starts what the first attempt could not.
        if self._start_workflow is None:
            return None
        try:
            return await asyncio.wait_for(self._start_workflow(start), WORKFLOW_START_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning(
                "intake: workflow %s not started now (%s: %s); the %s event will start it",
                start.workflow_id,
                type(exc).__name__,
                exc,
                RECEIVED_EVENT,
            )
            return None


def _new_inquiry(payload: InquiryPayload, raw_id: int, workflow_id: str) -> Inquiry:
    return Inquiry(
        source=payload.source,
        external_id=payload.external_id,
        raw_payload_id=raw_id,
        mailbox_address=payload.mailbox,
        property_ref=payload.property_ref,
        prospect=payload.prospect_data(),
        email=payload.email,
        message=payload.message,
        received_at=payload.received_at,
        workflow_id=workflow_id,
        status=InquiryStatus.RECEIVED,
    )


def _add_received_step(session: AsyncSession, inquiry: Inquiry) -> None:
    """The timeline starts with the intake itself, so the detail page is truthful before the workflow runs."""
    portal = inquiry.source
    session.add(
        InquiryStep(
            inquiry_id=inquiry.id,
            key="intake",
            at=utcnow(),
            status=InquiryStatus.RECEIVED,
            title=f"Anfrage von {portal} eingegangen",
            detail=f"Objekt {inquiry.property_ref}" if inquiry.property_ref else "Ohne Objektangabe",
        )
    )


def _storable(data: bytes, content_type: str | None, *, truncated: bool) -> tuple[str, str | None]:
    """The body as text for the raw table, and the content type saying how it was stored."""
    content_type = content_type[:150] if content_type else None
    try:
        # A truncated copy may end inside a multi-byte character: decode what is complete.
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        return text, content_type
    return base64.b64encode(data).decode("ascii"), (content_type or "application/octet-stream") + BASE64_MARKER
