"""Issue 19's cost goals per inquiry path, measured on live runs (real activities, database and SMTP):
activities (local ones included) and history events. `make bench` prints the same figures from the
recordings these runs leave with IMMOFLOW_RECORD_HISTORIES=1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from benchmarks.path_cost import PATH_GOALS, PathGoal, recorded_cost
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.temporal.histories import history_cost, load_history, recorded_histories
from tests import factories
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_base import LEAN_STEPS
from workflows.inquiry_models import InquiryState

pytestmark = pytest.mark.timeout(120)
GOALS = {goal.scenario: goal for goal in PATH_GOALS}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """What a path costs the cluster does not depend on the database: SQLite only (saves CI a minute's share)."""
    return sqlite_url


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        yield harness


async def _within_goal(harness: InquiryHarness, handle: WorkflowHandle[InquiryWorkflow, Any], goal: PathGoal) -> None:
    await harness.record(handle, goal.scenario)
    cost = history_cost(await handle.fetch_history())
    assert goal.met_by(cost), (goal, cost)


async def test_known_prospect(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    await factories.contact(harness.sessions, email="kurz@example.com")
    inquiry = await factories.inquiry(harness.sessions, email="kurz@example.com")
    handle = await harness.start(inquiry)
    assert (await handle.result()).state == InquiryState.COMPLETED
    assert [m.subject.split(":")[0] for m in smtp_sink.received] == ["Ihr Exposé"]
    # Every step reached the database (the lean path writes them with its work, not one activity each).
    assert (await harness.timeline(inquiry.id))[-1] == "completed"
    assert (await harness.row(inquiry.id)).status == "completed"
    await _within_goal(harness, handle, GOALS["path-known-prospect"])


async def test_unknown_prospect_confirms(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    inquiry = await factories.inquiry(harness.sessions, email="neu@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    [confirmation] = await harness.messages(inquiry.id)
    await harness.confirm(handle, harness.nonce_from(confirmation))
    assert (await handle.result()).state == InquiryState.COMPLETED
    assert len(smtp_sink.received) == 2
    assert (await harness.row(inquiry.id)).status == "completed"
    await _within_goal(harness, handle, GOALS["path-confirmed"])


async def test_two_reminders_then_a_task(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    await harness.configure(followup_interval="P2D", followup_attempts=2, final_notice="task")
    inquiry = await factories.inquiry(harness.sessions, email="stumm@example.com")
    handle = await harness.start(inquiry)
    result = await handle.result()
    assert result.state == InquiryState.EXPIRED and result.reminders_sent == 2
    assert len(smtp_sink.received) == 3 and len(await harness.tasks(inquiry.id)) == 1
    assert await harness.timeline(inquiry.id) == ["checked", "confirmation", "followup-1", "followup-2", "expired"]
    assert (await harness.row(inquiry.id)).status == "expired"
    await _within_goal(harness, handle, GOALS["path-expired-task"])


@pytest.mark.parametrize("goal", PATH_GOALS, ids=lambda goal: goal.scenario)
def test_the_recorded_paths_meet_their_goals(goal: PathGoal) -> None:
    """What `make bench` prints: the committed recordings, within the goals too."""
    assert goal.met_by(recorded_cost(goal)), (goal, recorded_cost(goal))


def _patches(path: Path) -> set[str]:
    """The patch IDs a recorded history's workflow took (their `core_patch` markers)."""
    found = set()
    for event in load_history(path).events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and marker.marker_name == "core_patch":
            found.add(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return found


def test_both_inquiry_paths_keep_replaying() -> None:
    """The lean recordings took LEAN_STEPS and the earlier ones did not: tests/test_replay.py replays both."""
    inquiries = [path for path in recorded_histories() if path.name.startswith("inquiry-")]
    lean = [path for path in inquiries if path.name.startswith("inquiry-lean-")]
    earlier = [path for path in inquiries if path not in lean]
    assert lean and earlier
    assert all(LEAN_STEPS in _patches(path) for path in lean), [p.name for p in lean if LEAN_STEPS not in _patches(p)]
    assert not any(LEAN_STEPS in _patches(path) for path in earlier)
