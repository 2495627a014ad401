"""LeadClock on its own: the workflow's decisions about instants, as pure arithmetic on the lead's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.lead_clock import LeadClock
from workflows.lead_models import LeadConfig, LeadState, PhaseConfig

MONDAY = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)


def clock(**state: object) -> LeadClock:
    config = LeadConfig(
        process_id=1,
        phases=[PhaseConfig(id=1, name="Erstkontakt", position=1, duration=timedelta(days=3))],
        reminders_enabled=True,
        reminder_interval=timedelta(weeks=1),
    )
    values = {"lead_id": 7, "phase_id": 1, "phase_entered_at": MONDAY - timedelta(days=3), "config": config, **state}
    return LeadClock(LeadState.model_validate(values))


def test_overdue_monday_reminds_tuesday_at_seven_then_weekly() -> None:
    lead = clock()
    assert lead.overdue_at() == MONDAY
    lead.track_episode(MONDAY)
    assert lead.state.episode is not None and lead.state.episode.number == 1
    assert lead.due_reminder(MONDAY) is None
    tuesday = datetime(2026, 11, 3, 7, 0, tzinfo=UTC)
    assert lead.next_reminder_at() == tuesday
    assert lead.due_reminder(tuesday) == (1, tuesday)
    assert "overdue since 2026-11-02 15:30 UTC, next reminder 2026-11-03 07:00 UTC (#1)" in lead.details()


def test_instants_missed_while_no_worker_ran_are_one_mail() -> None:
    lead = clock()
    three_weeks_later = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    lead.track_episode(three_weeks_later)
    # Reminders were due on 3, 10, 17 and 24 November: one mail now, numbered as the latest of them.
    assert lead.due_reminder(three_weeks_later) == (4, datetime(2026, 11, 24, 7, 0, tzinfo=UTC))


def test_a_task_restarts_the_clock_and_ends_the_episode() -> None:
    lead = clock()
    lead.track_episode(MONDAY + timedelta(hours=1))
    assert lead.state.episode is not None
    lead.state.hold_until = MONDAY + timedelta(days=1)  # a task due on Tuesday
    lead.track_episode(MONDAY + timedelta(hours=2))
    assert lead.state.episode is None
    assert lead.overdue_at() == MONDAY + timedelta(days=4)
    assert lead.details() == "phase 'Erstkontakt': on time, overdue at 2026-11-06 15:30 UTC"
