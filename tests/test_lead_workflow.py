"""LeadWorkflow on the time-skipping server with mocked activities: when reminders go out and when they stop.

Every scenario starts from a Monday on the test server's clock (shared by the whole session, so instants
are computed from it). `due_at` is the instant the workflow computed; `scheduled_at` is the server clock
when the workflow woke and scheduled the mail, which trails it by the milliseconds the workflow task took.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain import lead_schedule as schedule
from tests.lead_harness import (
    DAY,
    HISTORIES,
    MONDAY,
    RECORD,
    TUESDAY,
    WEEK,
    FakeLead,
    FakeLeadActivities,
    at_day,
    export_history,
    lead_worker,
    next_weekday,
    phases,
    skip_to,
    wait_status,
)
from workflows.lead import LeadWorkflow
from workflows.lead_models import (
    AppointmentCreated,
    ConfigChanged,
    LeadClosed,
    LeadInput,
    LeadResult,
    PhaseChanged,
    RunLimits,
    TaskCreated,
)
from workflows.shared import IMMOFLOW_KIND, LEAD_OVERDUE, LEAD_PHASE

SEVEN = time(7, 0)
DURATION = timedelta(days=3)
# The reminder goes out at the due minute, not hours or a day later. The time-skipping server's clock also moves
# with real time while a workflow task is being processed, so a busy CI machine adds a second or two: the bound
# checks the schedule, not the machine's speed (it failed once at 1.007 s with a 1 s bound).
WAKE_SLACK = timedelta(seconds=30)


async def start(
    env: WorkflowEnvironment, task_queue: str, lead_id: int = 1, limits: RunLimits | None = None
) -> WorkflowHandle[LeadWorkflow, LeadResult]:
    return await env.client.start_workflow(
        LeadWorkflow.run,
        LeadInput(lead_id=lead_id, limits=limits or RunLimits()),
        id=f"lead-test-{uuid.uuid4()}",
        task_queue=task_queue,
    )


async def monday_lead(env: WorkflowEnvironment, **fields: object) -> tuple[FakeLead, datetime]:
    """A lead in phase 1 (3 days) that becomes overdue on a Monday at 10:00; phase 2 lasts 2 days."""
    monday = next_weekday(await env.get_current_time() + 4 * DAY, MONDAY, time(10, 0))
    lead = FakeLead(1, phase_entered_at=monday - DURATION, phases=phases(DURATION, 2 * DAY), **fields)  # type: ignore[arg-type]
    return lead, monday


def assert_sent(activities: FakeLeadActivities, expected: list[tuple[str, datetime]]) -> None:
    """Exactly these reminders (key, instant): computed to the microsecond, woken within a second."""
    assert [(s.request.idempotency_key, s.request.due_at) for s in activities.sent] == expected
    for sent in activities.sent:
        assert sent.request.due_at <= sent.scheduled_at < sent.request.due_at + WAKE_SLACK


async def close(
    env: WorkflowEnvironment, handle: WorkflowHandle[LeadWorkflow, LeadResult], event_id: int = 9999
) -> LeadResult:
    await handle.signal(LeadWorkflow.closed, LeadClosed(event_id=event_id))
    await wait_status(handle, lambda s: s.closed)
    # A fresh handle reads the latest run: the time-skipping server can miss the end of a run chain that a
    # handle follows from its first run across continue-as-new.
    latest: WorkflowHandle[LeadWorkflow, LeadResult] = env.client.get_workflow_handle_for(LeadWorkflow.run, handle.id)
    return await latest.result()


# --- the schedule (pure) ----------------------------------------------------------------------------------


def test_schedule_seed_example() -> None:
    monday = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
    assert monday.weekday() == MONDAY
    first = schedule.first_reminder_at(monday, SEVEN)
    assert first == datetime(2025, 11, 4, 7, 0, tzinfo=UTC)
    assert schedule.reminder_at(first, WEEK, 2) == datetime(2025, 11, 11, 7, 0, tzinfo=UTC)
    # The whole Monday (UTC) leads to Tuesday 07:00, also just before and after 07:00 and at midnight.
    for hour, minute in ((0, 0), (6, 59), (7, 0), (23, 59)):
        assert schedule.first_reminder_at(monday.replace(hour=hour, minute=minute), SEVEN) == first
    assert schedule.latest_due_number(first, WEEK, first - timedelta(seconds=1)) == 0
    assert schedule.latest_due_number(first, WEEK, first) == 1
    assert schedule.latest_due_number(first, WEEK, first + 3 * WEEK + DAY) == 4
    assert schedule.interval_of(2, "days") == 2 * DAY
    with pytest.raises(ValueError, match="unknown interval unit"):
        schedule.interval_of(1, "months")


def test_resolution_rules() -> None:
    t = datetime(2025, 11, 4, 9, 0, tzinfo=UTC)
    assert schedule.appointment_hold(t + DAY, t + DAY + timedelta(hours=1), created_at=t) == t + DAY + timedelta(
        hours=1
    )
    assert schedule.appointment_hold(t - DAY, t - DAY + timedelta(hours=1), created_at=t) is None
    assert schedule.task_hold(created_at=t, due_at=None) == t
    assert schedule.task_hold(created_at=t, due_at=t + 2 * DAY) == t + 2 * DAY
    assert schedule.task_hold(created_at=t, due_at=t - DAY) == t
    assert schedule.overdue_at(t, t + DAY, DURATION) == t + DAY + DURATION
    assert schedule.overdue_at(t, None, None) is None


# --- reminders at the seed's instants -----------------------------------------------------------------


async def test_overdue_monday_reminds_tuesday_0700_and_the_tuesday_after(
    workflow_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, monday - timedelta(minutes=1))
        before = await handle.query(LeadWorkflow.status)
        assert (before.overdue, before.overdue_at) == (False, monday)
        await skip_to(env, tuesday + WEEK + timedelta(hours=1))
        status = await handle.query(LeadWorkflow.status)
        description = await handle.describe()
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        result = await close(env, handle)
        if RECORD:
            await export_history(handle, "weekly-reminders")

    assert tuesday.weekday() == TUESDAY
    assert_sent(activities, [("lead:1:episode:1:reminder:1", tuesday), ("lead:1:episode:1:reminder:2", tuesday + WEEK)])
    assert activities.delivered == [1, 2]
    assert status.overdue and status.overdue_since == monday
    assert status.next_reminder_at == tuesday + 2 * WEEK
    assert result == LeadResult(lead_id=1, outcome="closed", episodes=1, reminders_sent=2)
    attributes = description.typed_search_attributes
    assert attributes.get(IMMOFLOW_KIND) == "lead"
    assert attributes.get(LEAD_PHASE) == "1"
    assert attributes.get(LEAD_OVERDUE) is True
    assert metadata.current_details == (
        f"phase 'Phase 1': overdue since {monday:%Y-%m-%d} 10:00 UTC, "
        f"next reminder {tuesday + 2 * WEEK:%Y-%m-%d} 07:00 UTC (#3), episode 1"
    )


async def test_send_time_is_a_setting_and_hours_interval(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env, send_time=time(5, 30), interval=timedelta(hours=6))
    first = at_day(monday, 1, time(5, 30))
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, first + timedelta(hours=13))
        await close(env, handle)
    assert [s.request.due_at for s in activities.sent] == [
        first,
        first + timedelta(hours=6),
        first + timedelta(hours=12),
    ]


# --- the three resolutions ----------------------------------------------------------------------------


async def test_phase_change_starts_the_new_phases_clock(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, tuesday + timedelta(hours=2))
        lead.phase_id, lead.phase_entered_at = 2, await env.get_current_time()
        await handle.signal(
            LeadWorkflow.phase_changed, PhaseChanged(event_id=1, phase_id=2, phase_entered_at=lead.phase_entered_at)
        )
        await skip_to(env, tuesday + WEEK + timedelta(hours=1))
        status = await handle.query(LeadWorkflow.status)
        await close(env, handle)
    # Phase 2 (2 days) entered Tuesday ~09:00 → overdue Thursday ~09:00 → reminder Friday 07:00, episode 2;
    # nothing for episode 1 on the following Tuesday.
    friday = at_day(monday, 4, SEVEN)
    assert_sent(activities, [("lead:1:episode:1:reminder:1", tuesday), ("lead:1:episode:2:reminder:1", friday)])
    assert status.phase_id == 2 and status.episode == 2
    assert status.overdue_since == lead.phase_entered_at + 2 * DAY


async def test_future_appointment_holds_the_lead_until_it_ends(
    workflow_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    thursday_end = at_day(monday, 3, time(15, 0))
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, tuesday + timedelta(hours=2))
        created = await env.get_current_time()
        appointment = AppointmentCreated(
            event_id=1,
            appointment_id=7,
            starts_at=thursday_end - timedelta(hours=1),
            ends_at=thursday_end,
            created_at=created,
        )
        lead.hold_until = thursday_end
        await handle.signal(LeadWorkflow.appointment_created, appointment)
        await skip_to(env, thursday_end - timedelta(minutes=1))
        held = await handle.query(LeadWorkflow.status)
        await skip_to(env, tuesday + WEEK + timedelta(hours=1))
        await close(env, handle)
    # Overdue again one phase duration (3 days) after the appointment ended: Sunday 15:00 → Monday 07:00.
    assert (held.overdue, held.overdue_at) == (False, thursday_end + DURATION)
    assert_sent(
        activities,
        [("lead:1:episode:1:reminder:1", tuesday), ("lead:1:episode:2:reminder:1", at_day(monday, 7, SEVEN))],
    )


async def test_appointment_entered_after_the_fact_does_not_resolve(
    workflow_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, tuesday + timedelta(hours=2))
        created = await env.get_current_time()
        past = AppointmentCreated(
            event_id=1,
            appointment_id=8,
            starts_at=created - DAY,
            ends_at=created - DAY + timedelta(hours=1),
            created_at=created,
        )
        await handle.signal(LeadWorkflow.appointment_created, past)
        await skip_to(env, tuesday + WEEK + timedelta(hours=1))
        await close(env, handle)
    assert_sent(activities, [("lead:1:episode:1:reminder:1", tuesday), ("lead:1:episode:1:reminder:2", tuesday + WEEK)])


@pytest.mark.parametrize("due_in", [None, timedelta(days=1, hours=3)], ids=["no-due-date", "due-next-day"])
async def test_task_holds_the_lead_until_it_is_due(
    workflow_env: WorkflowEnvironment, task_queue: str, due_in: timedelta | None
) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, tuesday + timedelta(hours=2))
        created = await env.get_current_time()
        due_at = None if due_in is None else created + due_in
        await handle.signal(
            LeadWorkflow.task_created, TaskCreated(event_id=1, task_id=3, due_at=due_at, created_at=created)
        )
        await skip_to(env, tuesday + WEEK + timedelta(hours=1))
        status = await handle.query(LeadWorkflow.status)
        await close(env, handle)
        if RECORD and due_at is not None:
            await export_history(handle, "task-resolves")
    restart = due_at or created
    again = restart + DURATION
    assert_sent(
        activities,
        [("lead:1:episode:1:reminder:1", tuesday), ("lead:1:episode:2:reminder:1", at_day(again, 1, SEVEN))],
    )
    assert status.overdue_since == again


# --- configuration changes, closing, deleting ---------------------------------------------------------


async def test_durations_and_interval_changed_while_waiting(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, _ = await monday_lead(env)
    entered = lead.phase_entered_at  # Friday 10:00
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, entered + timedelta(hours=2))
        lead.set_duration(1, DAY)  # overdue Saturday 10:00 instead of Monday → reminder Sunday 07:00
        await handle.signal(LeadWorkflow.config_changed, ConfigChanged(event_id=1, process_id=1))
        await skip_to(env, at_day(entered, 2, time(8, 0)))
        lead.interval = DAY  # daily from the first: Monday 07:00
        await handle.signal(LeadWorkflow.config_changed, ConfigChanged(event_id=2, process_id=1))
        await skip_to(env, at_day(entered, 3, time(8, 0)))
        lead.set_duration(1, 10 * DAY)  # not overdue any more until Monday week 10:00: a new episode then
        await handle.signal(LeadWorkflow.config_changed, ConfigChanged(event_id=3, process_id=1))
        await skip_to(env, at_day(entered, 11, time(8, 0)))
        await close(env, handle)
    assert_sent(
        activities,
        [
            ("lead:1:episode:1:reminder:1", at_day(entered, 2, SEVEN)),
            ("lead:1:episode:1:reminder:2", at_day(entered, 3, SEVEN)),
            ("lead:1:episode:2:reminder:1", at_day(entered, 11, SEVEN)),
        ],
    )
    assert activities.snapshots == 4


async def test_closed_while_waiting_for_overdue(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, monday - DAY)
        result = await close(env, handle)
    assert result == LeadResult(lead_id=1, outcome="closed", episodes=0, reminders_sent=0)
    assert activities.sent == []


async def test_closed_between_two_reminders(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, tuesday + 3 * DAY)
        result = await close(env, handle)
        await skip_to(env, tuesday + 2 * WEEK)
    assert result == LeadResult(lead_id=1, outcome="closed", episodes=1, reminders_sent=1)
    assert_sent(activities, [("lead:1:episode:1:reminder:1", tuesday)])


async def test_deleted_lead_ends_the_workflow(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, monday - DAY)
        lead.status = "missing"
        await handle.signal(LeadWorkflow.config_changed, ConfigChanged(event_id=1, process_id=1))
        # Awaiting the result of a busy workflow lets the test server skip its clock far ahead: wait first.
        await wait_status(handle, lambda s: s.closed)
        latest: WorkflowHandle[LeadWorkflow, LeadResult] = env.client.get_workflow_handle_for(
            LeadWorkflow.run, handle.id
        )
        result = await latest.result()
    assert result.outcome == "missing"


async def test_reminders_off_tracks_overdue_without_mail(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env, reminders_enabled=False)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, monday + WEEK)
        status = await handle.query(LeadWorkflow.status)
        description = await handle.describe()
        await close(env, handle)
    assert activities.sent == []
    assert status.overdue and status.overdue_since == monday and status.next_reminder_at is None
    assert description.typed_search_attributes.get(LEAD_OVERDUE) is True


async def test_database_ahead_of_signals_skips_and_reloads(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    """The compose activity finds the lead already moved on (its event not delivered yet): no mail, reload."""
    env = workflow_env
    lead, monday = await monday_lead(env)
    tuesday = at_day(monday, 1, SEVEN)
    activities = FakeLeadActivities({1: lead}, skip_next="lead changed phase")
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        await skip_to(env, tuesday - timedelta(hours=1))
        lead.phase_id, lead.phase_entered_at = 2, await env.get_current_time()
        await skip_to(env, tuesday + timedelta(hours=1))
        status = await handle.query(LeadWorkflow.status)
        # The event arrives later and changes nothing: the snapshot already had it.
        await handle.signal(
            LeadWorkflow.phase_changed, PhaseChanged(event_id=1, phase_id=2, phase_entered_at=lead.phase_entered_at)
        )
        await close(env, handle)
    assert activities.sent == []
    assert (status.phase_id, status.overdue) == (2, False)
    assert status.overdue_at == lead.phase_entered_at + 2 * DAY


# --- long life: continue-as-new, redelivered events ---------------------------------------------------


async def test_continue_as_new_with_signals_in_flight(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, _ = await monday_lead(env)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue, limits=RunLimits(events_per_run=3))
        await wait_status(handle, lambda s: s.phase_id == 1)
        now = await env.get_current_time()

        def task(event_id: int) -> TaskCreated:
            return TaskCreated(event_id=event_id, task_id=event_id, due_at=now + event_id * DAY, created_at=now)

        await asyncio.gather(*(handle.signal(LeadWorkflow.task_created, task(n)) for n in range(1, 21)))
        # Redelivered events, some of them while the workflow hands over to its next run.
        await asyncio.gather(*(handle.signal(LeadWorkflow.task_created, task(n)) for n in range(1, 21, 3)))
        await handle.signal(LeadWorkflow.task_created, task(21))
        status = await wait_status(handle, lambda s: s.events_applied == 21 and s.run_number >= 2)
        await handle.signal(LeadWorkflow.task_created, task(21))
        result = await close(env, handle)
        final = await handle.query(LeadWorkflow.status)
    assert final.events_applied == 22  # 21 tasks and the close; every redelivery ignored
    assert status.overdue_at == now + 21 * DAY + DURATION  # the last task's hold survived every hand-over
    assert result.outcome == "closed"


async def test_redelivered_phase_change_is_ignored(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    env = workflow_env
    lead, monday = await monday_lead(env)
    activities = FakeLeadActivities({1: lead})
    async with lead_worker(env, task_queue, activities.all()):
        handle = await start(env, task_queue)
        lead.phase_id, lead.phase_entered_at = 2, await env.get_current_time()
        change = PhaseChanged(event_id=5, phase_id=2, phase_entered_at=lead.phase_entered_at)
        await handle.signal(LeadWorkflow.phase_changed, change)
        await handle.signal(LeadWorkflow.phase_changed, change)
        # Signals are handled in order: once the task shows, the redelivered change has been seen too.
        task = TaskCreated(event_id=6, task_id=1, due_at=monday, created_at=lead.phase_entered_at)
        await handle.signal(LeadWorkflow.task_created, task)
        status = await wait_status(handle, lambda s: s.overdue_at == monday + 2 * DAY)
        await close(env, handle)
    assert (status.events_applied, status.phase_id) == (2, 2)


# --- recorded histories -------------------------------------------------------------------------------


async def test_recorded_lead_histories_replay() -> None:
    files = sorted(HISTORIES.glob("lead-*.json"))
    assert files, "no recorded lead history in tests/histories (record with IMMOFLOW_RECORD_HISTORIES=1)"
    replayer = Replayer(workflows=[LeadWorkflow], data_converter=pydantic_data_converter)
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        await replayer.replay_workflow(history)
