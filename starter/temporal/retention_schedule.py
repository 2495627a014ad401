"""The Temporal Schedule of the retention scan (`privacy-retention-scan`): daily, office time zone.

Synced with the automations' schedules by `immoflow schedules sync` and `immoflow dev`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from settings import Settings
from starter.temporal.schedules import daily_spec, upsert_schedule
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
        spec=daily_spec(at, settings.time_zone, "daily retention scan (DSGVO)"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def sync_retention_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule or bring it in line with the settings, keeping a pause set in the UI."""
    return await upsert_schedule(client, RETENTION_SCHEDULE_ID, retention_schedule(settings))
