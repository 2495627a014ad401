"""Races in InquiryWorkflow: a prospect or an agent acts while the workflow awaits an activity.

The stop-activity check (the old path's find_stop_activity, the lean path's prepare_inquiry_reminder, which
also drafts the reminder) is held open by the test (the workflow's branching is under test); the draft itself and
every other activity are real, against the real database and SMTP sink.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.inquiries import InquiryActivities
from activities.messages import MessageActivities
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.inquiry_harness import InquiryHarness
from worker import WORKFLOWS, build_activities
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import (
    CancelInput,
    InquirySnapshot,
    InquiryState,
    ReminderDraft,
    ReminderRequest,
    StopCheck,
    StopFound,
)

pytestmark = pytest.mark.timeout(120)


HELD = ("find_stop_activity", "prepare_inquiry_reminder")


@dataclass
class HeldStopCheck:
    """The stop check, which reports when it runs and answers only when the test lets it: ANSWER as the stop
    found; without one, the lean check then drafts the reminder for real (DRAFT)."""

    answer: StopFound | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    draft: Callable[[ReminderRequest], Awaitable[ReminderDraft]] | None = None

    @activity.defn(name="find_stop_activity")
    async def find_stop_activity(self, check: StopCheck) -> StopFound | None:
        self.started.set()
        await self.release.wait()
        return self.answer

    @activity.defn(name="prepare_inquiry_reminder")
    async def prepare_inquiry_reminder(self, request: ReminderRequest) -> ReminderDraft:
        if (stop := await self.find_stop_activity(request.check)) is not None:
            return ReminderDraft(stop=stop)
        assert self.draft is not None
        return ReminderDraft(message_id=(await self.draft(request)).message_id)


@pytest.fixture
def held() -> HeldStopCheck:
    return HeldStopCheck()


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    held: HeldStopCheck,
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    # The real draft runs with no stop activity recorded: only the held answer says whether there is one.
    inquiries = InquiryActivities(sessions, settings, MessageActivities(sessions, {}).delivery)
    held.draft = inquiries.prepare_inquiry_reminder
    real = [a for a in build_activities(settings, sessions) if a.__name__ not in HELD]
    async with Worker(
        workflow_env.client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[*real, held.find_stop_activity, held.prepare_inquiry_reminder],
    ):
        yield InquiryHarness(workflow_env.client, sessions, settings, task_queue)


async def _sent(harness: InquiryHarness, inquiry_id: int) -> list[str | None]:
    """The mails that went out; a reminder drafted while the prospect answered is withdrawn, never sent."""
    messages = await harness.messages(inquiry_id)
    assert all(m.status in ("sent", "withdrawn") for m in messages), [(m.template_key, m.status) for m in messages]
    return [m.template_key for m in messages if m.status == "sent"]


async def _in_stop_check(
    harness: InquiryHarness, held: HeldStopCheck, email: str, attempts: int = 2
) -> tuple[int, WorkflowHandle[InquiryWorkflow, Any], asyncio.Future[InquirySnapshot]]:
    """An unknown prospect's inquiry whose first interval has passed: its stop check is running now."""
    await harness.configure(followup_interval="P2D", followup_attempts=attempts, final_notice="none")
    inquiry = await factories.inquiry(harness.sessions, email=email)
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    # Waiting for the result lets the test server skip the interval; the held check then stops the clock.
    result = asyncio.ensure_future(handle.result())
    async with asyncio.timeout(20):
        await held.started.wait()
    return inquiry.id, handle, result


@pytest.mark.parametrize(
    "stop", [None, StopFound(kind="absage", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))], ids=["no-stop", "stop"]
)
async def test_confirmation_during_stop_check_wins(
    harness: InquiryHarness, held: HeldStopCheck, stop: StopFound | None
) -> None:
    held.answer = stop
    inquiry_id, handle, outcome = await _in_stop_check(harness, held, "eilig@example.com")
    [confirmation] = await harness.messages(inquiry_id)
    await harness.confirm(handle, harness.nonce_from(confirmation))
    held.release.set()
    result = await outcome
    await harness.record(handle, f"confirmed-during-stop-check-{'stop' if stop else 'none'}")
    assert result.state == InquiryState.COMPLETED
    assert await _sent(harness, inquiry_id) == ["inquiry.confirmation", "inquiry.expose"]  # no reminder after it


async def test_cancellation_during_stop_check_sends_no_reminder(harness: InquiryHarness, held: HeldStopCheck) -> None:
    inquiry_id, handle, outcome = await _in_stop_check(harness, held, "storno@example.com")
    update = await handle.start_update(
        InquiryWorkflow.cancel, CancelInput(reason="Büro"), wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    held.release.set()
    assert (await update.result()).state == InquiryState.CANCELLED
    assert (await outcome).state == InquiryState.CANCELLED
    assert await _sent(harness, inquiry_id) == ["inquiry.confirmation"]


async def test_resend_that_sent_nothing_says_so(harness: InquiryHarness, held: HeldStopCheck) -> None:
    # No reminders: the first interval's check is the last one, after it the inquiry expires.
    inquiry_id, handle, outcome = await _in_stop_check(harness, held, "spaet@example.com", attempts=0)
    update = await handle.start_update(InquiryWorkflow.resend_confirmation, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    held.release.set()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update.result()
    assert "kein Bestätigungslink" in str(refused.value.cause)
    await harness.record(handle, "resend-refused-at-expiry")
    assert (await outcome).state == InquiryState.EXPIRED
    assert [m.template_key for m in await harness.messages(inquiry_id)] == ["inquiry.confirmation"]


async def test_confirmation_while_the_reminder_is_composed_withdraws_it(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str, smtp_sink: Any
) -> None:
    await factories.office(sessions)
    composing = asyncio.Event()
    release = asyncio.Event()
    inquiries = InquiryActivities(sessions, settings, MessageActivities(sessions, {}).delivery)

    @activity.defn(name="prepare_inquiry_reminder")
    async def compose_held(request: ReminderRequest) -> ReminderDraft:
        draft = await inquiries.prepare_inquiry_reminder(request)  # the real row in the outbox
        composing.set()
        await release.wait()
        return draft

    real = [a for a in build_activities(settings, sessions) if a.__name__ != "prepare_inquiry_reminder"]
    async with Worker(
        workflow_env.client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=[*real, compose_held]
    ):
        harness = InquiryHarness(workflow_env.client, sessions, settings, task_queue)
        await harness.configure(followup_interval="P2D", followup_attempts=2, final_notice="none")
        inquiry = await factories.inquiry(sessions, email="mitten@example.com")
        handle = await harness.start(inquiry)
        await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
        outcome = asyncio.ensure_future(handle.result())
        async with asyncio.timeout(20):
            await composing.wait()
        [confirmation, *_] = await harness.messages(inquiry.id)
        await harness.confirm(handle, harness.nonce_from(confirmation))
        release.set()
        result = await outcome
        await harness.record(handle, "reminder-withdrawn")
    assert result.state == InquiryState.COMPLETED
    mails = {m.template_key: m.status for m in await harness.messages(inquiry.id)}
    assert mails == {"inquiry.confirmation": "sent", "inquiry.followup.1": "withdrawn", "inquiry.expose": "sent"}
    assert len(smtp_sink.received) == 2  # the prospect never got the reminder
