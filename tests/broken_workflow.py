"""A workflow whose every workflow task fails: what a bug in workflow code looks like to Temporal."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class BrokenWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in workflow code: the workflow task fails and is retried forever")
