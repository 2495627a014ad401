"""What every chaos scenario does around its fault: drive intake over HTTP, wait, and judge mails and statuses.

The verdict is always the same two questions, asked of the SMTP sink and the database: did every mail the
inquiries must produce arrive exactly once, and did every inquiry reach the status its kind must end in?
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.stack import ProcessStack
from db.models import DomainEvent, Inquiry, InquiryStep, Message, MessageStatus
from db.session import SessionFactory, engine_from_settings, make_session_factory
from starter.dev.demo import KNOWN_PROSPECT_EMAIL, MAILBOX
from starter.dev.smtp_sink import ReceivedMail

Kind = Literal["known", "expires", "confirms"]
FINAL = {"completed", "expired", "ignored", "skipped", "cancelled", "failed", "aborted"}
LINK = re.compile(r"/confirm/([A-Za-z0-9_.\-]+)")
# Retried submissions: connection refused while the web app restarts, 503 while the database is away.
RETRY_PAUSE = 0.5

SETTLED = frozenset({MessageStatus.SENT, MessageStatus.WITHDRAWN})


@dataclass
class Planned:
    """One inquiry the scenario sends, and what it must end in."""

    kind: Kind
    external_id: str = field(default_factory=lambda: f"chaos-{uuid.uuid4().hex[:16]}")
    inquiry_id: int | None = None

    def payload(self) -> dict[str, Any]:
        tag = self.external_id.rsplit("-", 1)[-1]
        known = self.kind == "known"
        return {
            "source": "chaosportal",
            "external_id": self.external_id,
            "mailbox": MAILBOX,
            "property_ref": "W-1001",
            "salutation": "Frau",
            # Unique names and zip codes: the duplicate check (name + zip) must not merge two prospects.
            "first_name": f"Vera{tag}",
            "last_name": f"Versuch{tag}",
            "email": KNOWN_PROSPECT_EMAIL if known else f"p-{tag}@example.org",
            "zip_code": f"{int(tag[:5], 16) % 90000 + 10000}",
            "city": "Berlin",
            "message": "Ist die Wohnung noch frei?",
            "received_at": "2024-05-01T10:00:00+02:00",
        }

    @property
    def final_status(self) -> str:
        return "expired" if self.kind == "expires" else "completed"

    def required_steps(self, attempts: int, notice: str) -> set[str]:
        """Idempotency-key steps whose mails must exist (`inquiry:<id>:<step>`)."""
        if self.kind == "known":
            return {"expose"}
        if self.kind == "confirms":
            return {"confirmation", "expose"}
        steps = {"confirmation", *(f"followup:{n}" for n in range(1, attempts + 1))}
        return steps | ({"manager-notice"} if notice == "email" else set())


def plan(**counts: int) -> list[Planned]:
    """plan(known=3, expires=2) — interleaved, so every kind is in flight at any moment."""
    lists = [[Planned(kind) for _ in range(n)] for kind, n in counts.items()]  # type: ignore[arg-type]
    mixed: list[Planned] = []
    for index in range(max((len(items) for items in lists), default=0)):
        mixed += [items[index] for items in lists if index < len(items)]
    return mixed


async def configure(stack: ProcessStack, **config: Any) -> None:
    """Second-scale intervals through the settings API, as an office would set them."""
    async with stack.http() as http:
        current = (await http.get("/api/settings/inquiry-manager")).raise_for_status().json()
        (await http.put("/api/settings/inquiry-manager", json={**current, **config})).raise_for_status()


async def submit(
    stack: ProcessStack, planned: Sequence[Planned], *, concurrency: int = 6, deadline: float = 120.0
) -> Counter[int]:
    """POST every inquiry until it is accepted; returns how often each HTTP status (0: no answer) was seen."""
    seen: Counter[int] = Counter()
    gate = asyncio.Semaphore(concurrency)
    stop_at = time.monotonic() + deadline

    async def one(item: Planned, http: httpx.AsyncClient) -> None:
        async with gate:
            while True:
                try:
                    response = await http.post("/api/inquiries", json=item.payload())
                    status = response.status_code
                except httpx.TransportError:
                    status = 0
                seen[status] += 1
                if status in (200, 201, 202):
                    item.inquiry_id = int(response.json()["id"])
                    return
                assert status in (0, 503), f"{status}: {response.text}"
                if status == 503:
                    assert response.headers.get("retry-after"), response.headers
                assert time.monotonic() < stop_at, f"intake still refused after {deadline:.0f} s: {seen}"
                await asyncio.sleep(RETRY_PAUSE)

    async with stack.http() as http:
        await asyncio.gather(*(one(item, http) for item in planned))
    return seen


class Inspector:
    """Reads the stack's database from the test process (WAL / PostgreSQL: alongside the running apps)."""

    def __init__(self, stack: ProcessStack) -> None:
        self.stack = stack
        self.engine: AsyncEngine = engine_from_settings(stack.settings())
        self.sessions: SessionFactory = make_session_factory(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def statuses(self) -> dict[str, str]:
        async with self.sessions() as session:
            rows = await session.execute(select(Inquiry.external_id, Inquiry.status))
            return {row.external_id: row.status for row in rows}

    async def messages(self) -> list[Message]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Message).order_by(Message.id)))

    async def wait_final(self, planned: Sequence[Planned], within: float) -> dict[str, str]:
        deadline = time.monotonic() + within
        while True:
            statuses = await self.statuses()
            open_ = [p.external_id for p in planned if statuses.get(p.external_id) not in FINAL]
            if not open_:
                print(f"[chaos] {len(planned)} inquiries final after {within - (deadline - time.monotonic()):.1f} s")
                return statuses
            if time.monotonic() > deadline:
                waiting = Counter(statuses.get(external_id, "missing") for external_id in open_)
                raise AssertionError(f"{len(open_)} inquiries not final after {within:.0f} s: {dict(waiting)}")
            await asyncio.sleep(1)

    async def wait_status(self, planned: Sequence[Planned], status: str, within: float) -> None:
        deadline = time.monotonic() + within
        while any(s != status for s in await self._statuses_of(planned)):
            assert time.monotonic() < deadline, Counter(await self._statuses_of(planned))
            await asyncio.sleep(0.3)

    async def _statuses_of(self, planned: Sequence[Planned]) -> list[str | None]:
        statuses = await self.statuses()
        return [statuses.get(p.external_id) for p in planned]

    async def wait_mails(self, count: int, within: float) -> None:
        deadline = time.monotonic() + within
        while len(self.stack.mail.received) < count:
            assert time.monotonic() < deadline, f"{len(self.stack.mail.received)} of {count} mails after {within} s"
            await asyncio.sleep(0.2)

    async def half_written(self) -> list[str]:
        """Inquiries without their intake step or their `inquiry.received` event: must never exist."""
        async with self.sessions() as session:
            inquiries = list(await session.scalars(select(Inquiry)))
            steps = set(await session.scalars(select(InquiryStep.inquiry_id).where(InquiryStep.key == "intake")))
            events = {
                int(event.payload["inquiry_id"])
                for event in await session.scalars(select(DomainEvent).where(DomainEvent.kind == "inquiry.received"))
            }
        return [i.external_id for i in inquiries if i.id not in steps or i.id not in events]


def mail_key(mail: ReceivedMail) -> str:
    return str(mail.message.get("X-Immoflow-Key", ""))


def confirm_tokens(mails: Iterable[ReceivedMail]) -> dict[str, str]:
    """inquiry id → the token of its first confirmation mail."""
    tokens: dict[str, str] = {}
    for mail in mails:
        key = mail_key(mail)
        match = LINK.search(mail.text)
        if key.endswith(":confirmation") and match:
            tokens.setdefault(key.split(":")[1], match.group(1))
    return tokens


async def confirm(stack: ProcessStack, planned: Planned, token: str) -> int:
    """Submit the /confirm form the way a browser does; returns the HTTP status."""
    tag = planned.external_id.rsplit("-", 1)[-1]
    form = {"first_name": f"Vera{tag}", "last_name": f"Versuch{tag}", "zip_code": planned.payload()["zip_code"]}
    form |= {"city": "Berlin", "salutation": "Frau", "street": "Teststraße 1", "phone": "", "newsletter": ""}
    async with stack.http() as http:
        return (await http.post(f"/confirm/{token}", data=form)).status_code


async def assert_exactly_once(
    inspector: Inspector,
    planned: Sequence[Planned],
    *,
    attempts: int,
    notice: str,
    window: set[str] | None = None,
    settle: float = 2.0,
) -> Counter[str]:
    """Every inquiry final as planned; every required mail, and every mail the outbox sent, in the sink once.

    WINDOW: keys that may arrive twice because the fault hit between SMTP's acceptance and the outbox row
    being marked sent (see activities/messages.py); anything else twice is a failure. Returns the copies.
    """
    statuses = await inspector.statuses()
    wrong = {
        p.external_id: statuses.get(p.external_id) for p in planned if statuses.get(p.external_id) != p.final_status
    }
    assert not wrong, f"unexpected final statuses: {wrong}"
    await asyncio.sleep(settle)  # a retry still on its way would show up now
    copies = Counter(mail_key(mail) for mail in inspector.stack.mail.received)
    messages = await inspector.messages()
    # WITHDRAWN: composed, then not due any more (the prospect confirmed meanwhile, issue 14): decided, not lost.
    unsent = [(m.idempotency_key, m.status) for m in messages if m.status not in SETTLED]
    assert not unsent, f"outbox rows not sent: {unsent}"
    sent_keys = {m.idempotency_key for m in messages if m.status == MessageStatus.SENT}
    required = {f"inquiry:{p.inquiry_id}:{step}" for p in planned for step in p.required_steps(attempts, notice)}
    missing = sorted(required - {key for key, n in copies.items() if n >= 1})
    assert not missing, f"{len(missing)} required mails never arrived, e.g. {missing[:5]}"
    strangers = sorted(set(copies) - sent_keys)
    assert not strangers, f"mails the outbox does not know: {strangers[:5]}"
    lost = sorted(sent_keys - set(copies))
    assert not lost, f"marked sent but not in the sink: {lost[:5]}"
    doubled = {key: n for key, n in copies.items() if n > 1 and key not in (window or set())}
    assert not doubled, f"mails that arrived more than once: {doubled}"
    # A second copy from the window is the same message: receivers fold it by its Message-ID.
    ids: dict[str, set[str]] = {}
    for mail in inspector.stack.mail.received:
        ids.setdefault(mail_key(mail), set()).add(str(mail.message["Message-ID"]))
    assert all(len(found) == 1 for found in ids.values()), {k: v for k, v in ids.items() if len(v) > 1}
    return copies


async def delivery_windows(inspector: Inspector) -> list[float]:
    """Seconds from the SMTP server's acceptance (sink clock) to the outbox row saying "sent", per mail.

    Within that span a crash or a lost reply leaves a mail delivered but not recorded: the duplicate window.
    """
    accepted: dict[str, float] = {}
    for mail in inspector.stack.mail.received:
        accepted[mail_key(mail)] = mail.received_at.timestamp()  # the copy whose reply got through
    return sorted(
        max(0.0, m.sent_at.timestamp() - accepted[m.idempotency_key])
        for m in await inspector.messages()
        if m.sent_at is not None and m.idempotency_key in accepted
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")
