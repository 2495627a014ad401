"""ConsentMailWorkflow: sends one consent's double opt-in mail, exactly once (ID `consent-<consent id>`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior

from workflows.delivery import deliver

with workflow.unsafe.imports_passed_through():
    from activities.consent_mail import ConsentActivities

# Composing is a quick database write; an outage should delay the mail, never lose it.
COMPOSE_TIMEOUT = timedelta(seconds=30)
COMPOSE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


class ConsentInput(BaseModel):
    consent_id: int


def consent_workflow_id(consent_id: int) -> str:
    return f"consent-{consent_id}"


# Pinned: one opt-in mail delivered in minutes; it finishes on the build that started it.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class ConsentMailWorkflow:
    @workflow.run
    async def run(self, params: ConsentInput) -> str:
        message_id = await workflow.execute_activity_method(
            ConsentActivities.compose_consent_mail,
            params.consent_id,
            start_to_close_timeout=COMPOSE_TIMEOUT,
            retry_policy=COMPOSE_RETRY,
            summary="compose double opt-in mail",
        )
        if message_id is None:
            return "nothing to ask"
        result = await deliver(message_id, "double opt-in mail")
        return result.status
