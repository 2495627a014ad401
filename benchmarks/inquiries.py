"""Inquiry-manager figures against the real stack (one Temporal dev server, one run, so ratios compare alike).

- throughput ratio: known-prospect inquiries (real database, exposé through the SMTP sink) completed per
  second ÷ the rate of BenchNoop workflows with the same number of no-op activities;
- intake ratio: POST /api/inquiries accepted per second ÷ bare `start_workflow` calls per second;
- latency: form confirmation → exposé in the sink, and timer due → reminder in the sink (p50/p99).
Both sides of a ratio use the same concurrency and start through the same client settings.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import insert, select
from temporalio.client import Client, WorkflowHandle

from benchmarks.measure import CpuMeter, bounded, percentile, say, say_goal, until
from benchmarks.noop import NoopWorkflow
from benchmarks.path_cost import say_path_costs
from benchmarks.stack import ProcessStack
from db.models import Inquiry
from db.session import SessionFactory
from starter.dev.demo import KNOWN_PROSPECT_EMAIL, MAILBOX
from starter.temporal.histories import history_cost
from starter.temporal.inquiries import start_inquiry_workflow
from workflows.inquiry_models import workflow_id_for

NOOP_QUEUE = "bench-noop"
IDLE_QUEUE = "bench-idle"  # nobody polls it: intake is measured without the work it causes
LINK = re.compile(r"/confirm/(\S+)")
SOURCE = "benchportal"


def inquiry_json(tag: str, *, email: str | None = None) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "external_id": tag,
        "mailbox": MAILBOX,
        "property_ref": "W-1001",
        "salutation": "Frau",
        "first_name": f"Bea{tag[-6:]}",
        "last_name": f"Bench{tag[-6:]}",
        "email": email or f"{tag}@example.org",
        "zip_code": f"{10000 + int(tag[-4:], 16) % 89999}",
        "city": "Berlin",
        "message": "Ist die Wohnung noch frei?",
    }


async def bulk_inquiries(sessions: SessionFactory, count: int, *, known: bool) -> list[Inquiry]:
    """COUNT inquiry rows as the intake records them, in one transaction (intake speed is measured apart)."""
    rows = []
    for _ in range(count):
        tag = uuid.uuid4().hex[:16]
        data = inquiry_json(tag, email=KNOWN_PROSPECT_EMAIL if known else None)
        prospect = {k: data[k] for k in ("salutation", "first_name", "last_name", "email", "zip_code", "city")}
        rows.append(
            {
                "source": SOURCE,
                "external_id": tag,
                "mailbox_address": MAILBOX,
                "property_ref": "W-1001",
                "prospect": prospect,
                "email": data["email"],
                "message": data["message"],
                "received_at": datetime.now(UTC),
                "workflow_id": workflow_id_for(SOURCE, tag),
                "status": "received",
            }
        )
    async with sessions.begin() as session:
        ids = list(await session.scalars(insert(Inquiry).returning(Inquiry.id), rows))
    async with sessions() as session:
        return list(await session.scalars(select(Inquiry).where(Inquiry.id.in_(ids)).order_by(Inquiry.id)))


async def start_inquiries(
    client: Client, inquiries: list[Inquiry], task_queue: str, concurrency: int
) -> list[WorkflowHandle[Any, Any]]:
    return await bounded(
        [
            lambda row=row: start_inquiry_workflow(  # type: ignore[misc]
                client,
                inquiry_id=row.id,
                workflow_id=row.workflow_id,
                source=row.source,
                property_ref=row.property_ref,
                task_queue=task_queue,
            )
            for row in inquiries
        ],
        concurrency,
    )


# Issue 19's yardstick: a no-op workflow with one activity per irreducible external step of the known-prospect
# path (read the prospect and property, send the exposé); the 7-activity figure is the one compared before.
FLOOR_ACTIVITIES = 2
EARLIER_YARDSTICK_ACTIVITIES = 7


async def noop_rate(client: Client, activities: int, count: int, concurrency: int) -> float:
    """BenchNoop workflows with ACTIVITIES no-op activities each, completed per second."""
    started = time.monotonic()
    handles = await bounded(
        [
            lambda: client.start_workflow(
                NoopWorkflow.run, activities, id=f"noop-{uuid.uuid4()}", task_queue=NOOP_QUEUE
            )
            for _ in range(count)
        ],
        concurrency,
    )
    await asyncio.gather(*(handle.result() for handle in handles))
    return count / (time.monotonic() - started)


async def throughput(stack: ProcessStack, sessions: SessionFactory, count: int, concurrency: int) -> None:
    client = await stack.client()
    # One first, alone: what the known-prospect path costs on this stack, from its live history.
    [probe] = await start_inquiries(client, await bulk_inquiries(sessions, 1, known=True), stack.task_queue, 1)
    await probe.result()
    cost = history_cost(await probe.fetch_history())
    say("known-prospect inquiry, live: activities", f"{cost.all_activities} ({cost.local_activities} local)")
    say("known-prospect inquiry, live: history events", cost.events)
    say_path_costs()

    noop_cpu = CpuMeter({"server": stack.pid("temporal"), "noop worker": stack.pid("noop-worker")})
    with noop_cpu:
        floor_rate = await noop_rate(client, FLOOR_ACTIVITIES, count, concurrency)
    earlier_rate = await noop_rate(client, EARLIER_YARDSTICK_ACTIVITIES, count, concurrency)

    rows = await bulk_inquiries(sessions, count, known=True)
    mails_before = len(stack.mail.received)
    inquiry_cpu = CpuMeter({"server": stack.pid("temporal"), "worker": stack.pid("worker")})
    with inquiry_cpu:
        started = time.monotonic()
        handles = await start_inquiries(client, rows, stack.task_queue, concurrency)
        results = await asyncio.gather(*(handle.result() for handle in handles))
        inquiry_rate = count / (time.monotonic() - started)
    assert all(result.state == "completed" for result in results), {r.state for r in results}
    assert len(stack.mail.received) - mails_before == count, "an exposé is missing or doubled"

    say(f"noop workflows/s ({FLOOR_ACTIVITIES} no-op activities each, {count} workflows)", floor_rate)
    say(f"noop workflows/s ({EARLIER_YARDSTICK_ACTIVITIES} no-op activities each, for comparison)", earlier_rate)
    say(f"known-prospect inquiries completed/s ({count} inquiries, exposé mailed)", inquiry_rate)
    say_goal(f"inquiry throughput / {FLOOR_ACTIVITIES}-activity noop", inquiry_rate / floor_rate, at_least=0.7)
    say(f"inquiry throughput / {EARLIER_YARDSTICK_ACTIVITIES}-activity noop (the earlier yardstick)",
        inquiry_rate / earlier_rate)  # fmt: skip
    noop_ms = noop_cpu.say_per(count, f"{FLOOR_ACTIVITIES}-activity noop workflow")
    inquiry_ms = inquiry_cpu.say_per(count, "inquiry")
    # With every core busy the rates follow the CPU each side costs: this is the ratio's ceiling.
    say("CPU per noop workflow / CPU per inquiry (server + worker)", noop_ms / inquiry_ms)


async def intake(stack: ProcessStack, count: int, concurrency: int) -> None:
    client = await stack.client()
    start_cpu = CpuMeter({"server": stack.pid("temporal"), "benchmark client": os.getpid()})
    with start_cpu:
        began = time.monotonic()
        await bounded(
            [
                lambda: client.start_workflow(NoopWorkflow.run, 0, id=f"bare-{uuid.uuid4()}", task_queue=IDLE_QUEUE)
                for _ in range(count)
            ],
            concurrency,
        )
        start_rate = count / (time.monotonic() - began)
    say(f"bare start_workflow calls/s ({count}, {concurrency} in flight)", start_rate)

    post_cpu = CpuMeter({"server": stack.pid("temporal"), "benchmark client": os.getpid(), "web": stack.pid("web")})
    async with stack.http() as http:
        await http.post("/api/inquiries", json=inquiry_json(uuid.uuid4().hex[:16]))  # connections warm
        with post_cpu:
            began = time.monotonic()
            responses = await bounded(
                [lambda: http.post("/api/inquiries", json=inquiry_json(uuid.uuid4().hex[:16])) for _ in range(count)],
                concurrency,
            )
            post_rate = count / (time.monotonic() - began)
    statuses = {response.status_code for response in responses}
    assert statuses == {201}, statuses

    say(f"POST /api/inquiries accepted/s ({count}, {concurrency} in flight)", post_rate)
    say_goal("intake ratio: POST /api/inquiries / bare start_workflow", post_rate / start_rate, at_least=0.8)
    start_ms = start_cpu.say_per(count, "bare start")
    post_ms = post_cpu.say_per(count, "POST")
    say("CPU per bare start / CPU per POST (all processes)", start_ms / post_ms)


def _tokens(stack: ProcessStack) -> dict[int, str]:
    tokens: dict[int, str] = {}
    for mail in stack.mail.received:
        key, match = str(mail.message.get("X-Immoflow-Key", "")), LINK.search(mail.text)
        if key.endswith(":confirmation") and match:
            tokens[int(key.split(":")[1])] = match.group(1)
    return tokens


async def _has_token(stack: ProcessStack, inquiry_id: int) -> bool:
    return inquiry_id in _tokens(stack)


def _mail_times(stack: ProcessStack, step: str) -> dict[int, float]:
    times = {}
    for mail in stack.mail.received:
        key = str(mail.message.get("X-Immoflow-Key", ""))
        if key.endswith(f":{step}"):
            times[int(key.split(":")[1])] = mail.received_at.timestamp()
    return times


async def _timer_due(handle: WorkflowHandle[Any, Any]) -> float:
    """When the follow-up timer was due: its TimerStarted event time plus its duration (the server's clock)."""
    history = await handle.fetch_history()
    for event in history.events:
        if event.HasField("timer_started_event_attributes"):
            timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            return (event.event_time.ToDatetime(tzinfo=UTC) + timeout).timestamp()
    raise AssertionError(f"{handle.id}: no timer")


async def _configure(stack: ProcessStack, **changes: Any) -> None:
    """Inquiry-manager settings for the inquiries started next (each workflow keeps the snapshot it read)."""
    async with stack.http() as http:
        config = (await http.get("/api/settings/inquiry-manager")).raise_for_status().json()
        (await http.put("/api/settings/inquiry-manager", json=config | changes)).raise_for_status()


async def latency(stack: ProcessStack, count: int) -> None:
    """Confirmation form → exposé in the sink, COUNT prospects one at a time, each soon after their mail."""
    # A day's interval: no reminder crosses the measurement.
    await _configure(stack, followup_interval="P1D", followup_attempts=1, final_notice="none")
    async with stack.http() as http:
        tags = [uuid.uuid4().hex[:16] for _ in range(count)]
        accepted = await bounded([partial(http.post, "/api/inquiries", json=inquiry_json(t)) for t in tags], 4)
        ids = [int(response.json()["id"]) for response in accepted]
        submitted: dict[int, float] = {}
        for inquiry_id, tag in zip(ids, tags, strict=True):
            await until(partial(_has_token, stack, inquiry_id), 120, f"confirmation mail of {inquiry_id}", 0.1)
            form = {k: inquiry_json(tag)[k] for k in ("salutation", "first_name", "last_name", "zip_code", "city")}
            submitted[inquiry_id] = time.time()
            response = await http.post(f"/confirm/{_tokens(stack)[inquiry_id]}", data=form)
            assert response.status_code == 200, f"confirmation refused: HTTP {response.status_code}"

    async def all_arrived() -> bool:
        return set(ids) <= set(_mail_times(stack, "expose"))

    await until(all_arrived, 180, "exposés")
    exposes = _mail_times(stack, "expose")
    waits = [exposes[i] - submitted[i] for i in ids]
    say(f"confirmation -> exposé in the sink p50 ({count} forms, one at a time)", percentile(waits, 0.5) * 1000, "ms")
    say_goal("confirmation -> exposé in the sink p99", percentile(waits, 0.99) * 1000, below=1000, unit="ms")


async def timer_burst(stack: ProcessStack, sessions: SessionFactory, count: int, concurrency: int) -> None:
    """COUNT unknown prospects whose first reminder timers all fall due within about a minute: timer due →
    reminder in the sink. The interval is long enough that every confirmation mail is out before the first
    timer fires, so the reminders are measured alone."""
    interval = 120
    await _configure(stack, followup_interval=f"PT{interval}S", followup_attempts=1, final_notice="none")
    client = await stack.client()
    rows = await bulk_inquiries(sessions, count, known=False)
    id_of = {row.workflow_id: row.id for row in rows}
    began = time.time()
    handles = await start_inquiries(client, rows, stack.task_queue, concurrency)
    wanted = set(id_of.values())

    async def reminders_out() -> bool:
        return wanted <= set(_mail_times(stack, "followup:1"))

    await until(reminders_out, interval + 300, f"{count} first reminders")
    reminders = _mail_times(stack, "followup:1")
    dues = await bounded([partial(_timer_due, handle) for handle in handles], concurrency)
    lags = [reminders[id_of[handle.id]] - due for handle, due in zip(handles, dues, strict=True)]
    say(f"{count} reminder timers fell due within", max(dues) - min(dues), "s")
    say("first timer due after the first start", min(dues) - began, "s")
    say(f"timer due -> reminder in the sink p50 ({count} timers)", percentile(lags, 0.5) * 1000, "ms")
    say_goal("timer due -> reminder in the sink p99", percentile(lags, 0.99) * 1000, below=1000, unit="ms")
    # Their expiry would fall into the next phase: the scale figures are about sleeping inquiries alone.
    await bounded([partial(handle.terminate, "benchmark phase over") for handle in handles], concurrency)


class stack_sessions:  # noqa: N801 (used like a function: `async with stack_sessions(stack) as sessions`)
    """A session factory on the stack's database for the duration of a block."""

    def __init__(self, stack: ProcessStack) -> None:
        from db.session import engine_from_settings

        self._engine = engine_from_settings(stack.settings())

    async def __aenter__(self) -> SessionFactory:
        from db.session import make_session_factory

        return make_session_factory(self._engine)

    async def __aexit__(self, *exc: object) -> None:
        await self._engine.dispose()
