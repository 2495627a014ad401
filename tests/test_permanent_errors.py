"""A failure no retry can fix ends the step as `failed` with the reason, instead of retrying forever."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.permanent_errors import reason
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.inquiry_harness import InquiryHarness, running_harness
from tests.permanent_probe import PermanentProbe
from worker import INTERCEPTORS
from workflows.inquiry_models import InquiryState

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        yield harness


async def test_invalid_stored_submission_fails_the_inquiry_with_the_field(harness: InquiryHarness) -> None:
    inquiry = await factories.inquiry(harness.sessions, email="lang@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    nonce = harness.nonce_from((await harness.messages(inquiry.id))[0])
    # Stored as the form posted it; no attempt of the address step can make a 500-letter name valid.
    await harness.confirm(handle, nonce, last_name="Geheimname" * 50)
    result = await handle.result()
    assert result.state == InquiryState.FAILED
    row = await harness.row(inquiry.id)
    assert row.status == "failed" and "last_name" in (row.reason or "")
    assert "Geheimname" not in (row.reason or "")  # the reason names the field, not the personal data


class _Address(BaseModel):
    zip_code: int


def test_reason_names_fields_without_input() -> None:
    with pytest.raises(ValidationError) as caught:
        _Address.model_validate({"zip_code": "Musterstraße 1, 10117 Berlin"})
    text = reason(caught.value)
    assert "zip_code" in text and "Musterstraße" not in text
    assert reason(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")).startswith(
        "UnicodeEncodeError"
    )
    assert not isinstance(caught.value, ApplicationError)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("validation", "PermanentValidationError: "),
        ("unicode", "PermanentUnicodeEncodeError: "),
        ("overflow", "PermanentOverflowError: "),
    ],
)
async def test_the_worker_ends_permanent_failures_at_the_first_attempt(
    workflow_env: WorkflowEnvironment, task_queue: str, kind: str, expected: str
) -> None:
    attempts: list[int] = []

    @activity.defn(name="probe_activity")
    async def probe_activity(what: str) -> None:
        attempts.append(activity.info().attempt)
        if what == "validation":
            _Address.model_validate({"zip_code": "x"})
        if what == "unicode":
            "\ud800".encode()
        raise OverflowError("date value out of range")

    async with Worker(
        workflow_env.client,
        task_queue=task_queue,
        workflows=[PermanentProbe],
        activities=[probe_activity],
        interceptors=INTERCEPTORS,
    ):
        outcome = await workflow_env.client.execute_workflow(
            PermanentProbe.run, kind, id=f"probe-{uuid.uuid4()}", task_queue=task_queue
        )
    assert outcome.startswith(expected) and attempts == [1]
