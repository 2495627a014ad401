"""The Temporal Schedule of the retention scan (`privacy-retention-scan`): daily, office time zone.

Synced with the automations' schedules by `immoflow schedules sync` and `immoflow dev`.
"""

from __future__ import annotations

from datetime import timedelta

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
from workflows.retention_scan import RetentionScanWorkflow
from workflows.shared import IMMOFLOW_KIND

RETENTION_SCHEDULE_ID = "privacy-retention-scan"
# A missed day is caught up when the cluster is back: deletion a few hours late is still deletion.
CATCHUP_WINDOW = timedelta(days=1)


def retention_schedule(settings: Settings) -> Schedule:
    at = settings.retention_scan_time
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionScanWorkflow.run,
            id=RETENTION_SCHEDULE_ID,
            task_queue=settings.task_queue,
            typed_search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, "retention-scan")]),
            static_summary=f"Daily retention scan ({at:%H:%M} {settings.time_zone})",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(at.second)],
                    minute=[ScheduleRange(at.minute)],
                    hour=[ScheduleRange(at.hour)],
                    comment="daily retention scan (DSGVO)",
                )
            ],
            time_zone_name=settings.time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def sync_retention_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule or bring it in line with the settings, keeping a pause set in the UI."""
    schedule = retention_schedule(settings)
    try:
        await client.create_schedule(RETENTION_SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def replace(previous: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule.state = previous.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(RETENTION_SCHEDULE_ID).update(replace)
    return "updated"
