"""Temporal Schedules immoflow keeps: the automations' daily birthday scan.

`sync_schedules` creates each schedule or brings an existing one in line with the settings (time, time
zone, task queue), so `immoflow schedules sync` after changing IMMOFLOW_BIRTHDAY_SCAN_TIME takes effect
without deleting anything. Called by `immoflow dev` on every start and by deploy scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from settings import Settings
from workflows.automation_models import BirthdayScanInput
from workflows.birthday_scan import BirthdayScanWorkflow
from workflows.shared import IMMOFLOW_KIND

BIRTHDAY_SCHEDULE_ID = "automation-birthday-scan"
# A scan missed while the cluster was down still runs when it is back the same day; older ones are
# skipped (yesterday's birthday mail a day late is worse than none).
CATCHUP_WINDOW = timedelta(hours=12)


@dataclass(frozen=True)
class SyncedSchedule:
    schedule_id: str
    state: str  # "created" | "updated"
    description: str


def birthday_time_zone(settings: Settings) -> str:
    return settings.birthday_scan_time_zone or settings.time_zone


def daily_spec(at: time, time_zone: str, comment: str) -> ScheduleSpec:
    """Every day at AT in TIME_ZONE (the office's wall clock, across summer time)."""
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                second=[ScheduleRange(at.second)],
                minute=[ScheduleRange(at.minute)],
                hour=[ScheduleRange(at.hour)],
                comment=comment,
            )
        ],
        time_zone_name=time_zone,
    )


async def upsert_schedule(client: Client, schedule_id: str, schedule: Schedule) -> str:
    """Create the schedule or bring it in line with SCHEDULE: "created" or "updated"."""
    try:
        await client.create_schedule(schedule_id, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def replace(previous: ScheduleUpdateInput) -> ScheduleUpdate:
        # Keep the office's pause (set in the Temporal UI) and its note; everything else from settings.
        schedule.state = previous.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(replace)
    return "updated"


def birthday_spec(settings: Settings) -> ScheduleSpec:
    return daily_spec(settings.birthday_scan_time, birthday_time_zone(settings), "daily birthday scan (automations)")


def birthday_schedule(settings: Settings) -> Schedule:
    zone = birthday_time_zone(settings)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            BirthdayScanWorkflow.run,
            BirthdayScanInput(time_zone=zone),
            # The server appends the scheduled time: one workflow per day, readable in the UI.
            id="automation-birthday-scan",
            task_queue=settings.task_queue,
            typed_search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, "birthday-scan")]),
            static_summary=f"Daily birthday scan ({settings.birthday_scan_time:%H:%M} {zone})",
        ),
        spec=birthday_spec(settings),
        # Two scans at once would only contend for the same rows; the later one has nothing to add.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


def _describe(settings: Settings) -> str:
    return f"daily at {settings.birthday_scan_time:%H:%M} {birthday_time_zone(settings)}"


async def sync_schedules(client: Client, settings: Settings) -> list[SyncedSchedule]:
    state = await upsert_schedule(client, BIRTHDAY_SCHEDULE_ID, birthday_schedule(settings))
    return [SyncedSchedule(BIRTHDAY_SCHEDULE_ID, state, _describe(settings))]
