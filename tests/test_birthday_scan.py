"""The daily birthday scan on fixed dates (29 February included), and the Schedule that runs it: its spec,
and `sync_schedules` creating then updating it on a real dev server (the test server has no schedules)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleRange, ScheduleSpec
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.automations import AutomationActivities
from db.birthdays import birthday_dates, record_birthdays
from db.models import BirthdayGreeting, ContactStatus, DomainEvent
from db.session import SessionFactory
from settings import Settings, venv_binary
from starter.temporal.schedules import BIRTHDAY_SCHEDULE_ID, birthday_schedule, birthday_spec, sync_schedules
from starter.temporal.setup import register_search_attributes
from tests import factories
from tests.versioning import versioned_worker
from workflows.automation_models import BirthdayScanInput
from workflows.birthday_scan import BirthdayScanWorkflow


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 2, 28), [(2, 28), (2, 29)]),  # no 29 February in 2027: its birthdays today
        (date(2028, 2, 28), [(2, 28)]),  # 2028 has one: they wait a day
        (date(2028, 2, 29), [(2, 29)]),
        (date(2027, 3, 1), [(3, 1)]),
        (date(2100, 2, 28), [(2, 28), (2, 29)]),  # not a leap year either
    ],
)
def test_birthday_dates(day: date, expected: list[tuple[int, int]]) -> None:
    assert birthday_dates(day) == expected


async def greeted(sessions: SessionFactory) -> list[tuple[int, int]]:
    async with sessions() as session:
        rows = await session.scalars(select(BirthdayGreeting).order_by(BirthdayGreeting.contact_id))
        return [(row.contact_id, row.year) for row in rows]


async def scan(sessions: SessionFactory, day: date) -> tuple[int, int]:
    async with sessions.begin() as session:
        return await record_birthdays(session, day)


async def test_scan_on_fixed_dates(sessions: SessionFactory) -> None:
    leap = await factories.contact(sessions, email="leap@example.com", birthday=date(1988, 2, 29))
    feb28 = await factories.contact(sessions, email="feb28@example.com", birthday=date(1970, 2, 28))
    await factories.contact(sessions, email="march@example.com", birthday=date(1990, 3, 1))
    await factories.contact(
        sessions, email="gone@example.com", birthday=date(1988, 2, 28), status=ContactStatus.ARCHIVED
    )
    await factories.contact(sessions, email=None, last_name="Ohne Mail", birthday=date(1988, 2, 28))

    assert await scan(sessions, date(2027, 2, 28)) == (2, 0)
    assert await greeted(sessions) == [(leap.id, 2027), (feb28.id, 2027)]
    assert await scan(sessions, date(2027, 2, 28)) == (0, 2)  # the scan ran twice: nothing new

    # 2028 is a leap year: 28 February greets only the 28th, 29 February the leap-day child.
    assert await scan(sessions, date(2028, 2, 28)) == (1, 0)
    assert await scan(sessions, date(2028, 2, 29)) == (1, 0)
    assert await greeted(sessions) == [(leap.id, 2027), (leap.id, 2028), (feb28.id, 2027), (feb28.id, 2028)]

    async with sessions() as session:
        events = list(await session.scalars(select(DomainEvent).order_by(DomainEvent.id)))
    assert [(e.kind, e.payload, e.depth) for e in events[:2]] == [
        ("birthday", {"contact_id": leap.id, "year": 2027, "day": "2027-02-28"}, 0),
        ("birthday", {"contact_id": feb28.id, "year": 2027, "day": "2027-02-28"}, 0),
    ]


async def test_scan_workflow_takes_the_day_in_the_scans_time_zone(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> None:
    """Started by the schedule (no day given), the scan greets the birthdays of the day it is in its zone."""
    zone = "Pacific/Kiritimati"  # UTC+14: its date is a day ahead of UTC's for most of the day
    local_today = (await workflow_env.get_current_time()).astimezone(ZoneInfo(zone)).date()
    # 1980 was a leap year, so this works on 29 February as well.
    contact = await factories.contact(sessions, email="kiwi@example.com", birthday=local_today.replace(year=1980))
    activities = AutomationActivities(sessions, settings)
    async with Worker(
        workflow_env.client, task_queue=task_queue, workflows=[BirthdayScanWorkflow], activities=activities.all()
    ):
        handle = await workflow_env.client.start_workflow(
            BirthdayScanWorkflow.run, BirthdayScanInput(time_zone=zone), id=f"scan-{task_queue}", task_queue=task_queue
        )
        result = await handle.result()
    assert (result.day, result.new_events) == (local_today, 1)
    assert await greeted(sessions) == [(contact.id, local_today.year)]


def test_schedule_spec_from_settings() -> None:
    spec = birthday_spec(Settings(birthday_scan_time=time(7, 30), time_zone="Europe/Vienna"))
    assert spec.time_zone_name == "Europe/Vienna"
    [calendar] = spec.calendars
    assert (calendar.hour, calendar.minute, calendar.second) == (
        [ScheduleRange(7)],
        [ScheduleRange(30)],
        [ScheduleRange(0)],
    )
    # Every day of every month: the defaults of the calendar spec.
    assert calendar.day_of_month == (ScheduleRange(1, 31),) and calendar.month == (ScheduleRange(1, 12),)

    default = birthday_spec(Settings())
    assert default.time_zone_name == "Europe/Berlin"
    assert (default.calendars[0].hour, default.calendars[0].minute) == ([ScheduleRange(8)], [ScheduleRange(0)])
    own_zone = birthday_spec(Settings(birthday_scan_time_zone="America/New_York", time_zone="Europe/Berlin"))
    assert own_zone.time_zone_name == "America/New_York"


def test_schedule_starts_the_scan_for_the_zone_on_the_task_queue() -> None:
    schedule = birthday_schedule(Settings(task_queue="office-q", time_zone="Europe/Berlin"))
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == ("BirthdayScanWorkflow", "office-q")
    assert schedule.policy.catchup_window is not None and schedule.policy.catchup_window <= timedelta(days=1)


@pytest.fixture
async def dev_server() -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        ui=False,
        dev_server_log_level="error",
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(env.client)
    try:
        yield env.client
    finally:
        await env.shutdown()


def daily_at(spec: ScheduleSpec) -> list[tuple[int, int]]:
    """(hour, minute) of each calendar that fires at one time of day."""
    times = []
    for calendar in spec.calendars:
        [hour], [minute] = calendar.hour, calendar.minute
        assert hour.end in (0, hour.start) and minute.end in (0, minute.start)
        times.append((hour.start, minute.start))
    return times


async def test_sync_creates_then_updates_the_schedule(dev_server: Client) -> None:
    first = await sync_schedules(dev_server, Settings(task_queue="q1"))
    assert [(s.schedule_id, s.state) for s in first] == [(BIRTHDAY_SCHEDULE_ID, "created")]
    handle = dev_server.get_schedule_handle(BIRTHDAY_SCHEDULE_ID)
    described = await handle.describe()
    spec = described.schedule.spec
    assert spec.time_zone_name == "Europe/Berlin"
    assert daily_at(spec) == [(8, 0)]
    # The server computes the next runs: 08:00 Berlin time, one per day.
    upcoming = described.info.next_action_times[:2]
    assert [t.astimezone(ZoneInfo("Europe/Berlin")).time() for t in upcoming] == [time(8, 0)] * 2
    assert upcoming[1] - upcoming[0] in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))

    await handle.pause(note="Urlaub")
    second = await sync_schedules(
        dev_server, Settings(task_queue="q2", birthday_scan_time=time(9, 15), birthday_scan_time_zone="UTC")
    )
    assert [s.state for s in second] == ["updated"]
    described = await handle.describe()
    assert described.schedule.spec.time_zone_name == "UTC"
    assert daily_at(described.schedule.spec) == [(9, 15)]
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.task_queue == "q2"
    assert described.schedule.state.paused  # the office's pause survives a sync
    assert all(t.astimezone(UTC).time() == time(9, 15) for t in described.info.next_action_times)


async def test_the_schedule_runs_the_scan(dev_server: Client, sessions: SessionFactory, settings: Settings) -> None:
    """A triggered schedule action is what 08:00 does: the scan runs and greets today's (Berlin) birthdays."""
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    contact = await factories.contact(sessions, email="heute@example.com", birthday=today.replace(year=1980))
    task_queue = f"schedule-{uuid.uuid4()}"
    await sync_schedules(dev_server, settings.model_copy(update={"task_queue": task_queue}))
    activities = AutomationActivities(sessions, settings)
    async with versioned_worker(
        dev_server, task_queue=task_queue, workflows=[BirthdayScanWorkflow], activities=activities.all()
    ):
        await dev_server.get_schedule_handle(BIRTHDAY_SCHEDULE_ID).trigger()
        async with asyncio.timeout(30):
            while not await greeted(sessions):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    assert await greeted(sessions) == [(contact.id, today.year)]
