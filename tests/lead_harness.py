"""Fakes and helpers for the lead tests: an in-memory lead store behind mocked activities, calendar math,
and the history export used to record tests/histories/lead-*.json."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.messages import DeliveryResult
from db.models import Contact, Property, User
from db.session import SessionFactory
from messaging.template_store import ensure_default_templates
from settings import Settings
from starter.services.context import Services
from starter.temporal.histories import portable_json
from web.api import leads as leads_api
from web.errors import install_error_handlers
from workflows.lead import LeadWorkflow
from workflows.lead_models import (
    LeadConfig,
    LeadDbStatus,
    LeadSnapshot,
    LeadStatus,
    PhaseConfig,
    ReminderComposed,
    ReminderRequest,
)

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1"
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
WEEK = timedelta(weeks=1)
DAY = timedelta(days=1)


def next_weekday(after: datetime, weekday: int, at: time) -> datetime:
    """The first WEEKDAY at AT (UTC) on a later calendar day than AFTER."""
    day = after.astimezone(UTC).date() + DAY
    while day.weekday() != weekday:
        day += DAY
    return datetime.combine(day, at, tzinfo=UTC)


def at_day(moment: datetime, days: int, at: time) -> datetime:
    """AT on the calendar day DAYS after MOMENT's day."""
    return datetime.combine(moment.astimezone(UTC).date() + timedelta(days=days), at, tzinfo=UTC)


@dataclass
class FakeLead:
    """What load_lead_snapshot reads; tests change it together with the signal they send (like the API)."""

    lead_id: int
    phase_entered_at: datetime
    phases: list[PhaseConfig]
    phase_id: int = 1
    reminders_enabled: bool = True
    interval: timedelta = WEEK
    send_time: time = time(7, 0)
    hold_until: datetime | None = None
    status: LeadDbStatus = "open"

    def snapshot(self) -> LeadSnapshot:
        if self.status != "open":
            return LeadSnapshot(lead_id=self.lead_id, status=self.status)
        return LeadSnapshot(
            lead_id=self.lead_id,
            status="open",
            phase_id=self.phase_id,
            phase_entered_at=self.phase_entered_at,
            hold_until=self.hold_until,
            config=LeadConfig(
                process_id=1,
                phases=self.phases,
                reminders_enabled=self.reminders_enabled,
                reminder_interval=self.interval,
                reminder_time_utc=self.send_time,
            ),
        )

    def set_duration(self, phase_id: int, duration: timedelta | None) -> None:
        self.phases = [p.model_copy(update={"duration": duration}) if p.id == phase_id else p for p in self.phases]


def phases(*durations: timedelta | None) -> list[PhaseConfig]:
    """Phases 1..n named Phase 1..n with the given durations."""
    return [
        PhaseConfig(id=n, name=f"Phase {n}", position=n - 1, duration=duration)
        for n, duration in enumerate(durations, start=1)
    ]


@dataclass
class Sent:
    request: ReminderRequest
    scheduled_at: datetime  # the test server's (skipped) clock when the workflow scheduled the activity


@dataclass
class FakeLeadActivities:
    """Mocked activities, registered under the real names: the workflow's branching is under test."""

    leads: dict[int, FakeLead]
    sent: list[Sent] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    snapshots: int = 0
    skip_next: str | None = None

    @activity.defn(name="load_lead_snapshot")
    async def load_lead_snapshot(self, lead_id: int) -> LeadSnapshot:
        self.snapshots += 1
        return self.leads[lead_id].snapshot()

    @activity.defn(name="compose_lead_reminder")
    async def compose_lead_reminder(self, request: ReminderRequest) -> ReminderComposed:
        if self.skip_next is not None:
            reason, self.skip_next = self.skip_next, None
            return ReminderComposed(skipped=reason)
        self.sent.append(Sent(request, activity.info().current_attempt_scheduled_time))
        return ReminderComposed(message_id=len(self.sent))

    @activity.defn(name="deliver_message")
    async def deliver_message(self, message_id: int) -> DeliveryResult:
        self.delivered.append(message_id)
        return DeliveryResult(message_id=message_id, status="sent")

    @activity.defn(name="send_lead_reminder")
    async def send_lead_reminder(self, request: ReminderRequest) -> ReminderComposed:
        composed = await self.compose_lead_reminder(request)
        if composed.message_id is not None:
            await self.deliver_message(composed.message_id)
        return composed

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.load_lead_snapshot, self.compose_lead_reminder, self.deliver_message, self.send_lead_reminder]

    def keys(self) -> list[str]:
        return [s.request.idempotency_key for s in self.sent]

    def instants(self) -> list[datetime]:
        return [s.scheduled_at for s in self.sent]


def lead_worker(env: WorkflowEnvironment, task_queue: str, activities: Sequence[Callable[..., Any]]) -> Worker:
    return Worker(env.client, task_queue=task_queue, workflows=[LeadWorkflow], activities=list(activities))


async def wait_status(
    handle: WorkflowHandle[Any, Any], predicate: Callable[[LeadStatus], bool], within: float = 15.0
) -> LeadStatus:
    """Query until PREDICATE holds: signals are accepted at once, but the workflow acts on them a moment later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    status: LeadStatus | None = None
    while True:
        try:
            status = await handle.query(LeadWorkflow.status, rpc_timeout=timedelta(seconds=3))
        except RPCError:
            status = None  # a query during a run hand-over can time out; ask again
        if status is not None and predicate(status):
            return status
        if loop.time() > deadline:
            raise AssertionError(f"lead status never matched; last: {status}")
        await asyncio.sleep(0.05)


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Advance the time-skipping server's clock to MOMENT, firing every timer due on the way."""
    while (delta := moment - await env.get_current_time()) > timedelta(0):
        try:
            await env.sleep(delta)
        except RPCError:
            # Late in a session the shared test server fires every other test's leftover timers on the way,
            # and one long skip can outlast its RPC: go on from wherever the clock got to.
            continue


# The sales process the lead tests make through the API: two phases with durations, weekly reminders.
PROCESS: dict[str, Any] = {
    "name": "Verkauf",
    "reminders": {"enabled": True, "interval": 1, "unit": "weeks"},
    "phases": [
        {"name": "Erstkontakt", "duration": {"value": 3, "unit": "days"}},
        {"name": "Besichtigung", "duration": {"value": 2, "unit": "days"}},
    ],
}


@dataclass
class Office:
    taker_id: int
    other_user_id: int
    contact_id: int
    property_id: int


async def seed_office(sessions: SessionFactory) -> Office:
    """A lead taker, a second user, a contact and a property, and the default mail templates."""
    async with sessions.begin() as session:
        taker = User(email="lena.leadnehmer@office.example", name="Lena Leadnehmer")
        other = User(email="otto@office.example", name="Otto Other")
        contact = Contact(first_name="Klara", last_name="Kauf", email="klara@example.com")
        prop = Property(external_ref="H-2001", title="Einfamilienhaus am See")
        session.add_all([taker, other, contact, prop])
        await ensure_default_templates(session)
        await session.flush()
        return Office(taker.id, other.id, contact.id, prop.id)


def leads_app(settings: Settings, engine: AsyncEngine, sessions: SessionFactory) -> FastAPI:
    """Just the lead API (independent of the other features' routers), wired like create_app does."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(leads_api.router)
    app.state.services = Services(settings=settings, engine=engine, sessions=sessions)
    return app


def api_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver"
    )


async def export_history(handle: WorkflowHandle[Any, Any], scenario: str, directory: Path = HISTORIES) -> Path:
    """Write a finished workflow's history as tests/histories/lead-one-activity-<scenario>.json (replayed in CI).

    The path since LEAD_COMPOSE_AND_SEND; tests/histories/lead-<scenario>.json hold the one before it and keep
    replaying, never recorded again."""
    history = await handle.fetch_history()
    path = directory / f"lead-one-activity-{scenario}.json"
    path.write_text(portable_json(history))  # without stack traces: they name the recording machine's paths
    return path
