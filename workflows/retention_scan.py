"""RetentionScanWorkflow: the daily deletion schedule (Schedule `privacy-retention-scan`).

Plans the day (notice tasks, purging unconfirmed inquiries, the contacts past their date), erases each due
contact in its own activity, and asks the workflows that still ran for them to stop.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, VersioningBehavior
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities, RetentionRequest

# A day's notices and purges are a few queries; erasing one contact sweeps a handful of tables.
RETENTION_TIMEOUT = timedelta(minutes=5)
RETENTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


class RetentionScanResult(BaseModel):
    notices: int
    erased_contacts: list[int]
    purged_inquiries: int


# Pinned: one daily scan, done in minutes; the next day's run starts on the current build.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class RetentionScanWorkflow:
    @workflow.run
    async def run(self) -> RetentionScanResult:
        at = workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
        plan = await workflow.execute_activity_method(
            RetentionActivities.plan_retention,
            RetentionRequest(at=at),
            start_to_close_timeout=RETENTION_TIMEOUT,
            retry_policy=RETENTION_RETRY,
            summary="retention: notices, purge, due contacts",
        )
        for contact_id in plan.due_contact_ids:
            erased = await workflow.execute_activity_method(
                RetentionActivities.erase_contact_for_retention,
                contact_id,
                start_to_close_timeout=RETENTION_TIMEOUT,
                retry_policy=RETENTION_RETRY,
                summary=f"erase contact {contact_id}",
            )
            for workflow_id in erased.workflow_ids:
                try:
                    await workflow.get_external_workflow_handle(workflow_id).cancel()
                except ApplicationError as err:  # ended on its own meanwhile
                    workflow.logger.info("workflow %s not cancelled: %s", workflow_id, err)
        workflow.set_current_details(
            f"{plan.day:%d.%m.%Y}: {plan.notices} Hinweis(e), {len(plan.due_contact_ids)} Kontakt(e) gelöscht, "
            f"{plan.purged_inquiries} unbestätigte Anfrage(n) bereinigt"
        )
        return RetentionScanResult(
            notices=plan.notices, erased_contacts=plan.due_contact_ids, purged_inquiries=plan.purged_inquiries
        )
