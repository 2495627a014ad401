"""BirthdayScanWorkflow: the daily scan the Schedule `automation-birthday-scan` starts (seed 003).

It writes one `birthday` event per contact whose birthday is today (office time zone); the dispatcher
delivers them to the enabled birthday rules like any other event.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.automations import AutomationActivities
    from workflows.automation_models import BirthdayScanInput, ScanRequest, ScanResult

SCAN_TIMEOUT = timedelta(minutes=5)  # one query and a row per birthday child: seconds, even for large offices
SCAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))
# Set by the server on workflows a schedule starts: the slot's time, also when it runs late (catch-up).
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


# Pinned: one scan, one activity; it never outlives a deploy by more than its retries.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class BirthdayScanWorkflow:
    @workflow.run
    async def run(self, params: BirthdayScanInput) -> ScanResult:
        # The scheduled instant decides the day: a scan caught up after midnight still greets yesterday's.
        at = workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
        request = ScanRequest(time_zone=params.time_zone, day=params.day, at=at)
        result = await workflow.execute_activity_method(
            AutomationActivities.scan_birthdays,
            request,
            start_to_close_timeout=SCAN_TIMEOUT,
            retry_policy=SCAN_RETRY,
            summary="find today's birthdays",
        )
        workflow.set_current_details(
            f"{result.day:%Y-%m-%d}: {result.new_events} new birthday event{'' if result.new_events == 1 else 's'}, "
            f"{result.already_greeted} already greeted"
        )
        return result
