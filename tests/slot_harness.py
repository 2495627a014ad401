"""Drives TimeSlotRequestWorkflow on the time-skipping server with the real activities, database and SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import Contact, Message, PropertyContactPerson, RawPayload, SlotRequest, User
from db.session import SessionFactory
from db.slot_store import NewSlotRequest, create_slot_request
from domain.links import LinkSigner
from messaging.transport import Transport
from settings import Settings
from starter.temporal.histories import HISTORIES_DIR, portable_json
from starter.temporal.slots import start_slot_workflow
from tests import factories
from worker import WORKFLOWS, build_activities
from workflows.slot_models import SLOT_PURPOSE, ProposedSlot, SlotAnswer, SlotSnapshot, SlotState
from workflows.slot_request import TimeSlotRequestWorkflow

OFFICE_TIME = ZoneInfo(Settings.model_fields["time_zone"].default)  # the zone the slot form is filled in
LINK = re.compile(r"/slots/(\S+)")
SlotHandle = WorkflowHandle[TimeSlotRequestWorkflow, SlotSnapshot]
_id_blocks = itertools.count(1)


async def reserve_slot_ids(sessions: SessionFactory) -> None:
    """Moves the next slot request id to a block of its own: the tables are emptied between tests, the
    session-wide Temporal test server is not, and `slots-<id>` must be new for every request."""
    base = next(_id_blocks) * 1000
    async with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                text("SELECT setval(pg_get_serial_sequence('slot_requests', 'id'), :base)"), {"base": base}
            )
        else:
            await session.execute(text("DELETE FROM sqlite_sequence WHERE name = 'slot_requests'"))
            await session.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES ('slot_requests', :base)"), {"base": base}
            )


@dataclass
class SlotOffice:
    agent_id: int  # Anna: mobile, SMS permission and billing account
    quiet_id: int  # Otto: no SMS
    prospect_id: int
    property_id: int  # W-1001, managed by Anna
    person_id: int  # the property's first contact person (no user assigned unless a test says so)


async def slot_office(sessions: SessionFactory) -> SlotOffice:
    data = await factories.office(sessions)
    async with sessions.begin() as session:
        agent = await session.get(User, data["agent"].id)
        assert agent is not None
        agent.mobile, agent.sms_allowed, agent.sms_billing_account = "+49 151 1234567", True, "KST-ANNA"
        prospect = Contact(salutation="Frau", first_name="Nina", last_name="Neu", email="nina@example.com")
        person = Contact(first_name="Paul", last_name="Partner", email="paul.partner@example.com")
        session.add_all([prospect, person])
        await session.flush()
        session.add(PropertyContactPerson(property_id=data["active"].id, contact_id=person.id, position=0))
    return SlotOffice(data["agent"].id, data["other"].id, prospect.id, data["active"].id, person.id)


def temporal_down(settings: Settings) -> Settings:
    """For apps built without the test's client: nothing listens on the discard port, so a test never
    reaches a real Temporal server (a developer's `immoflow dev`, say)."""
    return settings.model_copy(update={"temporal_address": "127.0.0.1:9"})


def proposals(now: datetime, count: int = 3, *, days: int = 3) -> list[ProposedSlot]:
    """COUNT one-hour slots at 10:00 office time on consecutive days, starting DAYS after NOW's date.

    A fixed time of day, not NOW's hour: the form takes a date and two times, so a slot from 23:00 to
    00:00 cannot be entered, and a test run late in the evening must not depend on it (it did, in CI).
    """
    first_day = now.astimezone(OFFICE_TIME).date() + timedelta(days=days)

    def at_ten(day: int) -> datetime:
        return datetime.combine(first_day + timedelta(days=day), time(10), OFFICE_TIME).astimezone(UTC)

    return [ProposedSlot(starts_at=at_ten(i), ends_at=at_ten(i) + timedelta(hours=1)) for i in range(count)]


@dataclass
class SlotHarness:
    env: WorkflowEnvironment
    client: Client
    sessions: SessionFactory
    settings: Settings
    task_queue: str
    office: SlotOffice
    started: list[SlotHandle] = field(default_factory=list)

    async def create(self, now: datetime, **fields: Any) -> SlotRequest:
        values: dict[str, Any] = {
            "contact_id": self.office.prospect_id,
            "property_id": self.office.property_id,
            "recipient": "user",
            "recipient_user_id": self.office.agent_id,
            "response_types": ["email"],
            "expires_at": now + timedelta(days=7),
        }
        values.update(fields)
        async with self.sessions.begin() as session:
            return await create_slot_request(session, NewSlotRequest.model_validate(values), now=now)

    async def start(self, request: SlotRequest) -> SlotHandle:
        # The handle start_workflow returns is the one that lets the test server skip time in result().
        handle = await start_slot_workflow(self.client, request_id=request.id, task_queue=self.task_queue)
        self.started.append(handle)
        return handle

    async def finish_all(self) -> None:
        """Lets every workflow of the test run to its end while the worker still polls (the server skips the
        waiting). One left waiting would wake up on a task queue nobody polls any more, and its pending task
        would stop the shared test server from skipping time for every later test. (Terminating instead
        leaves the time-skipping test server stuck after an accepted update.) Handles not made by
        start_workflow (the API or the dispatcher started it) do not skip time: the test sleeps past a year."""
        for handle in self.started:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handle.result(), timeout=1)
                continue
            await self.env.sleep(timedelta(days=400))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handle.result(), timeout=30)

    async def wait_for(self, handle: SlotHandle, state: SlotState, within: float = 20) -> SlotSnapshot:
        async with asyncio.timeout(within):
            while (snapshot := await handle.query(TimeSlotRequestWorkflow.current)).state != state:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return snapshot

    async def wait_until_routed(self, handle: SlotHandle, within: float = 20) -> SlotSnapshot:
        """ANSWERED with deliveries: the workflow stored the proposals and carried out the routing."""
        async with asyncio.timeout(within):
            while True:
                snapshot = await handle.query(TimeSlotRequestWorkflow.current)
                if snapshot.state == SlotState.ANSWERED and snapshot.deliveries:
                    return snapshot
                await asyncio.sleep(0.05)

    async def submission(self, comment: str = "") -> int:
        """Stores a form submission the way the /slots page does (the comment travels only in here)."""
        async with self.sessions.begin() as session:
            raw = RawPayload(channel="slots-form", body=json.dumps({"comment": comment}))
            session.add(raw)
            await session.flush()
            return raw.id

    async def submit(self, handle: SlotHandle, nonce: str, slots: list[ProposedSlot], comment: str = "") -> None:
        answer = SlotAnswer(nonce=nonce, submission_id=await self.submission(comment), slots=slots)
        await handle.execute_update(TimeSlotRequestWorkflow.submit, answer)

    async def messages(self, request_id: int) -> list[Message]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(Message).where(Message.idempotency_key.like(f"slots:{request_id}:%")).order_by(Message.id)
            )
            return list(rows)

    async def row(self, request_id: int) -> SlotRequest:
        async with self.sessions() as session:
            row = await session.get(SlotRequest, request_id)
            assert row is not None
            return row

    @staticmethod
    async def record(handle: SlotHandle, scenario: str) -> None:
        """IMMOFLOW_RECORD_HISTORIES=1 keeps this run's history as tests/histories/slots-<scenario>.json."""
        if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
            path = HISTORIES_DIR / f"slots-{scenario}.json"
            path.write_text(portable_json(await handle.fetch_history()))

    def nonce_from(self, text: str) -> str:
        match = LINK.search(text)
        assert match, f"no time-slot link in: {text}"
        return LinkSigner(self.settings.effective_secret_key()).verify(SLOT_PURPOSE, match.group(1), now=0).nonce


@asynccontextmanager
async def running_slot_harness(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    *,
    transports: dict[str, Transport] | None = None,
) -> AsyncIterator[SlotHarness]:
    office = await slot_office(sessions)
    await reserve_slot_ids(sessions)
    client = env.client
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=build_activities(settings, sessions, transports),
    ):
        harness = SlotHarness(env, client, sessions, settings, task_queue, office)
        try:
            yield harness
        finally:
            await harness.finish_all()
