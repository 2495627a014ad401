"""A lead's clock: when it is overdue, which reminder is due, what ops see — pure arithmetic on LeadState.

LeadWorkflow (workflows/lead.py) owns the state and does the waiting, the signals and the activities; every
decision about instants is made here, on the state alone, so it is the same on replay and can be tested
without Temporal. The calendar arithmetic itself is in domain/lead_schedule.py.
"""

from __future__ import annotations

from datetime import datetime

from domain import lead_schedule as schedule
from workflows.lead_models import Episode, LeadSnapshot, LeadState, PhaseConfig


def utc_text(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


class LeadClock:
    def __init__(self, state: LeadState) -> None:
        self.state = state  # shared with the workflow, which carries it across continue-as-new

    def phase(self) -> PhaseConfig | None:
        config = self.state.config
        return config.phase(self.state.phase_id) if config else None

    def merge_phase(self, phase_id: int | None, entered_at: datetime | None) -> None:
        """Signals and snapshots can arrive in either order: the later phase entry wins."""
        state = self.state
        if entered_at is not None and (state.phase_entered_at is None or entered_at >= state.phase_entered_at):
            state.phase_id, state.phase_entered_at = phase_id, entered_at

    def merge_snapshot(self, snapshot: LeadSnapshot) -> None:
        state = self.state
        if snapshot.status != "open":
            state.closed = True
            state.outcome = "missing" if snapshot.status == "missing" else "closed"
            return
        state.config = snapshot.config
        self.merge_phase(snapshot.phase_id, snapshot.phase_entered_at)
        state.hold_until = schedule.later(state.hold_until, snapshot.hold_until)

    def track_episode(self, now: datetime) -> None:
        """Start, continue or end the overdue episode. A new clock start (resolution) is a new episode;
        a changed duration while still overdue only moves "overdue since"."""
        state, overdue_at = self.state, self.overdue_at()
        if overdue_at is None or now < overdue_at:
            state.episode = None
            return
        assert state.phase_entered_at is not None
        start = schedule.clock_start(state.phase_entered_at, state.hold_until)
        if state.episode is None or state.episode.clock_start != start:
            state.episodes += 1
            state.episode = Episode(number=state.episodes, clock_start=start, overdue_since=overdue_at)
        else:
            state.episode.overdue_since = overdue_at

    def overdue_at(self) -> datetime | None:
        state, phase = self.state, self.phase()
        if phase is None or state.phase_entered_at is None:
            return None
        return schedule.overdue_at(state.phase_entered_at, state.hold_until, phase.duration)

    def first_reminder_at(self) -> datetime | None:
        episode, config = self.state.episode, self.state.config
        if episode is None or config is None or not config.reminders_enabled:
            return None
        return episode.first_reminder_at or schedule.first_reminder_at(episode.overdue_since, config.reminder_time_utc)

    def next_reminder_at(self) -> datetime | None:
        """The instant of the next reminder of the current episode (None: not overdue or reminders off)."""
        episode, config, first = self.state.episode, self.state.config, self.first_reminder_at()
        if episode is None or config is None or first is None:
            return None
        return schedule.reminder_at(first, config.reminder_interval, episode.reminders_done + 1)

    def due_reminder(self, now: datetime) -> tuple[int, datetime] | None:
        """(number, instant) of the reminder to send now, or None (then next_reminder_at says when)."""
        episode, config, first, following = (
            self.state.episode,
            self.state.config,
            self.first_reminder_at(),
            self.next_reminder_at(),
        )
        if episode is None or config is None or first is None or following is None or now < following:
            return None
        number = max(episode.reminders_done + 1, schedule.latest_due_number(first, config.reminder_interval, now))
        return number, schedule.reminder_at(first, config.reminder_interval, number)

    def details(self) -> str:
        """The workflow's current details line in the Temporal UI."""
        state, config, phase, episode = self.state, self.state.config, self.phase(), self.state.episode
        if state.closed:
            sent = state.reminders_total
            return f"lead {state.outcome or 'closed'}; {sent} reminder{'' if sent == 1 else 's'} sent"
        name = f"phase {phase.name!r}" if phase else f"phase {state.phase_id} (unknown)"
        if episode is None:
            overdue_at = self.overdue_at()
            if overdue_at is None:
                return f"{name}: no duration, never overdue"
            return f"{name}: on time, overdue at {utc_text(overdue_at)}"
        reminders = "reminders off"
        if config is not None and config.reminders_enabled:
            reminders = f"next reminder {utc_text(self.next_reminder_at())} (#{episode.reminders_done + 1})"
        return f"{name}: overdue since {utc_text(episode.overdue_since)}, {reminders}, episode {episode.number}"
