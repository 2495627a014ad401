"""A workflow that runs one activity with unlimited retries and reports how it ended (tests/test_permanent_errors)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


@workflow.defn
class PermanentProbe:
    @workflow.run
    async def run(self, kind: str) -> str:
        try:
            await workflow.execute_activity(
                "probe_activity",
                kind,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),  # forever, like DB_RETRY
            )
        except ActivityError as err:
            cause = err.cause
            return f"{cause.type}: {cause.message}" if isinstance(cause, ApplicationError) else str(err)
        return "completed"
