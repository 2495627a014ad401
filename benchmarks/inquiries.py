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

from benchmarks.measure import CpuMeter, bounded, percentile, say, until
from benchmarks.noop import NoopWorkflow
from benchmarks.stack import ProcessStack
from db.models import Inquiry
from db.session import SessionFactory
from starter.dev.demo import KNOWN_PROSPECT_EMAIL, MAILBOX
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


async def activities_of(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(event.HasField("activity_task_scheduled_event_attributes") for event in history.events)


async def throughput(stack: ProcessStack, sessions: SessionFactory, count: int, concurrency: int) -> None:
    client = await stack.client()
    # One first, alone: how many activities the known-prospect path runs, for the yardstick.
    [probe] = await start_inquiries(client, await bulk_inquiries(sessions, 1, known=True), stack.task_queue, 1)
    await probe.result()
    activities = await activities_of(probe)
    say("activities per known-prospect inquiry", activities)

    noop_cpu = CpuMeter({"server": stack.pid("temporal"), "noop worker": stack.pid("noop-worker")})
    with noop_cpu:
        noop_started = time.monotonic()
        noops = await bounded(
            [
                lambda: client.start_workflow(
                    NoopWorkflow.run, activities, id=f"noop-{uuid.uuid4()}", task_queue=NOOP_QUEUE
                )
                for _ in range(count)
            ],
            concurrency,
        )
        await asyncio.gather(*(handle.result() for handle in noops))
        noop_rate = count / (time.monotonic() - noop_started)

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

    say(f"noop workflows/s ({activities} no-op activities each, {count} workflows)", noop_rate)
    say(f"known-prospect inquiries completed/s ({count} inquiries, exposé mailed)", inquiry_rate)
    say("inquiry throughput ratio (target >= 0.7)", inquiry_rate / noop_rate)
    noop_ms = noop_cpu.say_per(count, "noop workflow")
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
    say("intake ratio (target >= 0.8)", post_rate / start_rate)
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


async def latency(stack: ProcessStack, count: int, interval_seconds: int) -> None:
    async with stack.http() as http:
        config = (await http.get("/api/settings/inquiry-manager")).raise_for_status().json()
        # Three reminders: the link stays valid for 4 intervals, time enough to confirm under load.
        config |= {"followup_interval": f"PT{interval_seconds}S", "followup_attempts": 3, "final_notice": "none"}
        (await http.put("/api/settings/inquiry-manager", json=config)).raise_for_status()
        tags = [uuid.uuid4().hex[:16] for _ in range(count)]
        accepted = await bounded([partial(http.post, "/api/inquiries", json=inquiry_json(t)) for t in tags], 4)
        ids = [int(response.json()["id"]) for response in accepted]

        confirming, waiting = ids[: count // 2], ids[count // 2 :]
        tag_of = dict(zip(ids, tags, strict=True))
        submitted: dict[int, float] = {}
        for inquiry_id in confirming:  # as a prospect would: soon after the mail arrived, one at a time
            await until(partial(_has_token, stack, inquiry_id), 120, f"confirmation mail of {inquiry_id}", 0.1)
            form = {k: inquiry_json(tag_of[inquiry_id])[k] for k in ("salutation", "first_name", "last_name")}
            form |= {k: inquiry_json(tag_of[inquiry_id])[k] for k in ("zip_code", "city")}
            submitted[inquiry_id] = time.time()
            response = await http.post(f"/confirm/{_tokens(stack)[inquiry_id]}", data=form)
            assert response.status_code == 200, f"confirmation refused: HTTP {response.status_code}"

    async def all_arrived() -> bool:
        return set(confirming) <= set(_mail_times(stack, "expose")) and set(waiting) <= set(
            _mail_times(stack, "followup:1")
        )

    await until(all_arrived, interval_seconds + 180, "exposés and reminders")
    exposes, reminders = _mail_times(stack, "expose"), _mail_times(stack, "followup:1")
    confirm_latency = [exposes[i] - submitted[i] for i in confirming]
    client = await stack.client()
    async with stack_sessions(stack) as sessions, sessions() as session:
        workflow_ids = {
            row.id: row.workflow_id for row in await session.execute(select(Inquiry.id, Inquiry.workflow_id))
        }
    dues = [await _timer_due(client.get_workflow_handle(workflow_ids[i])) for i in waiting]
    timer_latency = [reminders[i] - due for i, due in zip(waiting, dues, strict=True)]
    say(f"confirmation -> exposé in the sink p50 ({len(confirm_latency)} forms, one at a time)",
        percentile(confirm_latency, 0.5) * 1000, "ms")  # fmt: skip
    say("confirmation -> exposé in the sink p99", percentile(confirm_latency, 0.99) * 1000, "ms")
    say(f"timer due -> reminder in the sink p50 ({len(timer_latency)} timers)", percentile(timer_latency, 0.5) * 1000,
        "ms")  # fmt: skip
    say("timer due -> reminder in the sink p99", percentile(timer_latency, 0.99) * 1000, "ms")


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
