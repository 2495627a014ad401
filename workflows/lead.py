"""LeadWorkflow: one per open lead (id `lead-<id>`); reminds the lead taker while the lead is overdue (seed 004).

What happens when (all instants UTC; the arithmetic is in domain/lead_schedule.py):

- **Overdue**: the phase clock plus the phase's duration. The clock starts when the phase was entered and
  restarts on a resolution; the latest restart counts (a later task with an earlier due date never
  shortens a hold already granted):
  * phase change: the new phase's clock starts at the change, with the new phase's duration;
  * appointment entered for the future (it starts after it was created): the clock restarts when the
    appointment ends, so the lead is overdue again one phase duration after the appointment;
    an appointment entered after the fact (already started) does not resolve anything;
  * new task: the clock restarts at the task's due date, or at its creation when it has none.
  A hold belongs to the lead, not the phase: a viewing next Friday also covers a phase change on Monday.
- **Reminders** (when the process has them on): number 1 the day after the lead became overdue (by UTC
  date) at the send time (IMMOFLOW_LEAD_REMINDER_TIME_UTC, 07:00), then every interval counted from the
  first (overdue Monday → Tuesday 07:00, next Tuesday 07:00, …). A resolution ends the episode; the next
  time the lead is overdue is a new episode with its own numbering. Instants missed while no worker ran
  collapse into one mail sent as soon as possible.
- **Closed** (or deleted) lead: the workflow ends.
- **Config changes** (durations, interval, on/off, send time) arrive as a `config_changed` signal: the
  workflow reloads its snapshot and recomputes the pending instant at once.

CRM changes arrive as signals from the domain-event dispatcher; each carries its event id, and a redelivered
event is ignored (the last DEDUPE_WINDOW ids are remembered and carried across continue-as-new).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior
from temporalio.exceptions import ActivityError

from domain import lead_schedule as schedule
from domain.lead_clock import LeadClock, utc_text
from workflows.delivery import deliver, run_sending

with workflow.unsafe.imports_passed_through():
    from activities.leads import LeadActivities
    from workflows.lead_models import (
        DEDUPE_WINDOW,
        QUERY_STATUS,
        SIGNAL_APPOINTMENT_CREATED,
        SIGNAL_CLOSED,
        SIGNAL_CONFIG_CHANGED,
        SIGNAL_PHASE_CHANGED,
        SIGNAL_TASK_CREATED,
        AppointmentCreated,
        ConfigChanged,
        LeadClosed,
        LeadInput,
        LeadResult,
        LeadSignal,
        LeadState,
        LeadStatus,
        PhaseChanged,
        ReminderRequest,
        TaskCreated,
        reminder_key,
    )
    from workflows.shared import IMMOFLOW_KIND, LEAD_OVERDUE, LEAD_PHASE

# Loading the lead is one small read: a local activity (no task round trip through the server, which halves
# the work of starting a lead) and a hung connection fails fast and is retried.
SNAPSHOT_TIMEOUT = timedelta(seconds=30)
# Without its snapshot the workflow cannot decide anything: retry as long as the database is down.
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
# Composing is one template render and one insert.
COMPOSE_TIMEOUT = timedelta(seconds=30)
# A reminder that cannot go out within six hours is dropped (the next follows at its own instant), so the
# workflow does not sit in a retry loop while the lead changes phase or closes.
REMINDER_GIVE_UP = timedelta(hours=6)
# Patch ID (issue 19): a reminder is composed and sent by one activity, send_lead_reminder. Histories recorded
# before it (tests/histories/lead-*.json without "one-activity") replay the two activities, compose and deliver.
LEAD_COMPOSE_AND_SEND = "lead-compose-and-send"
# Outages of the database or SMTP server are transient; a refused recipient or a broken template is not.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["PermanentDeliveryError", "TemplateRenderError"],
)


# Auto-upgrade: a lead lives for months, longer than any old version should keep workers; it moves to the
# current version on its next task, so a change to its commands still goes behind `workflow.patched`.
@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class LeadWorkflow:
    @workflow.init
    def __init__(self, input: LeadInput) -> None:
        self._state = input.state.model_copy(deep=True) if input.state else LeadState(lead_id=input.lead_id)
        self._limits = input.limits
        self._wake = False
        self._events_this_run = 0
        self._reminders_this_run = 0
        self._steps_this_run = 0
        self._published: tuple[str, bool] | None = None
        self._clock = LeadClock(self._state)

    @workflow.run
    async def run(self, input: LeadInput) -> LeadResult:
        state = self._state
        while not state.closed:
            if state.reload_requested:
                await self._reload()
                continue
            if self._run_is_full():
                await self._continue_as_new()
            self._steps_this_run += 1
            now = workflow.now()
            self._clock.track_episode(now)
            due = self._clock.due_reminder(now)
            if due is not None:
                await self._send_reminder(*due)
                continue
            self._publish()
            await self._sleep_until(
                self._clock.overdue_at() if state.episode is None else self._clock.next_reminder_at(), now
            )
        state.episode = None
        self._publish()
        return LeadResult(
            lead_id=state.lead_id,
            outcome=state.outcome or "closed",
            episodes=state.episodes,
            reminders_sent=state.reminders_total,
        )

    # --- signals (synchronous: they only change state and wake the loop) --------------------------------

    @workflow.signal(name=SIGNAL_PHASE_CHANGED)
    def phase_changed(self, signal: PhaseChanged) -> None:
        if self._accept(signal):
            self._clock.merge_phase(signal.phase_id, signal.phase_entered_at)
            config = self._state.config
            if config is not None and config.phase(signal.phase_id) is None:
                self._state.reload_requested = True  # a phase added after our snapshot

    @workflow.signal(name=SIGNAL_APPOINTMENT_CREATED)
    def appointment_created(self, signal: AppointmentCreated) -> None:
        if self._accept(signal):
            hold = schedule.appointment_hold(signal.starts_at, signal.ends_at, signal.created_at)
            self._state.hold_until = schedule.later(self._state.hold_until, hold)

    @workflow.signal(name=SIGNAL_TASK_CREATED)
    def task_created(self, signal: TaskCreated) -> None:
        if self._accept(signal):
            hold = schedule.task_hold(signal.created_at, signal.due_at)
            self._state.hold_until = schedule.later(self._state.hold_until, hold)

    @workflow.signal(name=SIGNAL_CLOSED)
    def closed(self, signal: LeadClosed) -> None:
        if self._accept(signal):
            self._state.closed = True
            self._state.outcome = "closed"

    @workflow.signal(name=SIGNAL_CONFIG_CHANGED)
    def config_changed(self, signal: ConfigChanged) -> None:
        if self._accept(signal):
            self._state.reload_requested = True

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> LeadStatus:
        state, episode = self._state, self._state.episode
        phase = self._clock.phase()
        return LeadStatus(
            lead_id=state.lead_id,
            phase_id=state.phase_id,
            phase_name=phase.name if phase else None,
            overdue=episode is not None,
            overdue_since=episode.overdue_since if episode else None,
            overdue_at=self._clock.overdue_at(),
            next_reminder_at=self._clock.next_reminder_at(),
            episode=episode.number if episode else None,
            reminders_in_episode=episode.reminders_done if episode else 0,
            reminders_total=state.reminders_total,
            events_applied=state.events_applied,
            run_number=state.run_number,
            closed=state.closed,
        )

    def _accept(self, signal: LeadSignal) -> bool:
        """False for a redelivered event; otherwise remember it and wake the loop."""
        seen = self._state.seen_event_ids
        if signal.event_id in seen:
            return False
        seen.append(signal.event_id)
        del seen[:-DEDUPE_WINDOW]
        self._state.events_applied += 1
        self._events_this_run += 1
        self._wake = True
        return True

    # --- steps ------------------------------------------------------------------------------------------

    async def _reload(self) -> None:
        self._state.reload_requested = False
        snapshot = await workflow.execute_local_activity_method(
            LeadActivities.load_lead_snapshot,
            self._state.lead_id,
            start_to_close_timeout=SNAPSHOT_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"load lead {self._state.lead_id} and its sales process",
        )
        self._clock.merge_snapshot(snapshot)

    async def _send_reminder(self, number: int, due_at: datetime) -> None:
        state, episode, config = self._state, self._state.episode, self._state.config
        assert episode is not None and config is not None
        assert state.phase_id is not None and state.phase_entered_at is not None
        episode.first_reminder_at = self._clock.first_reminder_at()
        # Counted before sending: a failed reminder is not retried forever, the next instant follows.
        episode.reminders_done = number
        episode.last_reminder_at = workflow.now()
        self._reminders_this_run += 1
        request = ReminderRequest(
            lead_id=state.lead_id,
            episode=episode.number,
            number=number,
            idempotency_key=reminder_key(state.lead_id, episode.number, number),
            phase_id=state.phase_id,
            phase_entered_at=state.phase_entered_at,
            clock_start=episode.clock_start,
            overdue_since=episode.overdue_since,
            due_at=due_at,
        )
        workflow.set_current_details(f"sending reminder {number} of episode {episode.number} (due {utc_text(due_at)})")
        try:
            one_activity = workflow.patched(LEAD_COMPOSE_AND_SEND)
            if one_activity:
                composed = await run_sending(
                    LeadActivities.send_lead_reminder,
                    request,
                    f"send reminder {number} of overdue episode {episode.number}",
                    retry_policy=MAIL_RETRY,
                    give_up_after=REMINDER_GIVE_UP,
                )
            else:
                composed = await workflow.execute_activity_method(
                    LeadActivities.compose_lead_reminder,
                    request,
                    start_to_close_timeout=COMPOSE_TIMEOUT,
                    schedule_to_close_timeout=REMINDER_GIVE_UP,
                    retry_policy=MAIL_RETRY,
                    summary=f"compose reminder {number} of overdue episode {episode.number}",
                )
            if composed.message_id is None:
                # The database is ahead of our signals (a change is on its way): catch up from it.
                workflow.logger.info("reminder %s skipped: %s", request.idempotency_key, composed.skipped)
                state.reload_requested = True
                return
            if not one_activity:
                await deliver(
                    composed.message_id,
                    f"send reminder {number} (message {composed.message_id})",
                    retry_policy=MAIL_RETRY,
                    give_up_after=REMINDER_GIVE_UP,
                )
        except ActivityError as err:
            workflow.logger.warning("reminder %s not sent: %s", request.idempotency_key, err.cause or err)
            return
        state.reminders_total += 1

    async def _sleep_until(self, wake_at: datetime | None, now: datetime) -> None:
        """Sleep until WAKE_AT (forever when None); any accepted signal wakes the loop earlier."""
        self._wake = False
        if wake_at is None:
            await workflow.wait_condition(lambda: self._wake)
            return
        summary = "overdue" if self._state.episode is None else "next reminder"
        with contextlib.suppress(TimeoutError):  # the timer fired: the instant has come
            await workflow.wait_condition(
                lambda: self._wake, timeout=max(wake_at - now, timedelta(milliseconds=1)), timeout_summary=summary
            )

    def _run_is_full(self) -> bool:
        limits = self._limits
        return (
            workflow.info().is_continue_as_new_suggested()
            or self._events_this_run >= limits.events_per_run
            or self._reminders_this_run >= limits.reminders_per_run
            or self._steps_this_run >= limits.steps_per_run
        )

    async def _continue_as_new(self) -> NoReturn:
        # Signal handlers only touch state, but a handler still in flight must land in the carried state.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._state.run_number += 1
        workflow.continue_as_new(LeadInput(lead_id=self._state.lead_id, state=self._state, limits=self._limits))

    # --- ops visibility ---------------------------------------------------------------------------------

    def _publish(self) -> None:
        """Search attributes (IDs and states only) when they change; the details line every step."""
        state, episode = self._state, self._state.episode
        phase_key = str(state.phase_id) if state.phase_id is not None else "none"
        published = (phase_key, episode is not None)
        if published != self._published:
            workflow.upsert_search_attributes(
                [
                    IMMOFLOW_KIND.value_set("lead"),
                    LEAD_PHASE.value_set(phase_key),
                    LEAD_OVERDUE.value_set(episode is not None),
                ]
            )
            self._published = published
        workflow.set_current_details(self._clock.details())
