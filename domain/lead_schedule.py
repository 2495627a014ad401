"""When a lead is overdue and when its reminders are due: pure functions of instants (seed 004).

Shared by the workflow (which feeds them `workflow.now()`), the reminder activity (stale check) and the
API (`GET /api/leads/{id}` shows the same overdue instant the workflow works with). No clock is read here.

- The phase clock starts when the phase was entered, or later when a resolution held the lead
  (`hold_until`: the end of an appointment entered for the future, a task's due date or creation).
- The lead is overdue once the phase's duration has passed on that clock.
- Reminder 1 goes out the day after the lead became overdue (UTC date), at the send time (07:00 UTC);
  reminder k at reminder 1 + (k-1) × interval, so the rhythm keeps the weekday of the first one.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from domain.instants import NEVER, plus

HOUR = timedelta(hours=1)
UNIT_DELTAS: dict[str, timedelta] = {"hours": HOUR, "days": timedelta(days=1), "weeks": timedelta(weeks=1)}


def interval_of(value: int, unit: str) -> timedelta:
    """`1, "weeks"` → one week. Unknown units are a configuration error, not a silent default."""
    if value < 1:
        raise ValueError(f"interval must be at least 1, got {value}")
    try:
        return value * UNIT_DELTAS[unit]
    except KeyError:
        raise ValueError(f"unknown interval unit {unit!r} (hours, days, weeks)") from None


def clock_start(phase_entered_at: datetime, hold_until: datetime | None) -> datetime:
    """The instant the current phase clock runs from."""
    return phase_entered_at if hold_until is None else max(phase_entered_at, hold_until)


def overdue_at(phase_entered_at: datetime, hold_until: datetime | None, duration: timedelta | None) -> datetime | None:
    """When the lead becomes overdue; None when its phase has no duration (never overdue)."""
    if duration is None:
        return None
    return plus(clock_start(phase_entered_at, hold_until), duration)


def first_reminder_at(overdue_since: datetime, send_time_utc: time) -> datetime:
    """The day after the lead became overdue (by its UTC date), at the send time: Monday → Tuesday 07:00."""
    if overdue_since >= NEVER:
        return NEVER
    day = overdue_since.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, send_time_utc, tzinfo=UTC)


def reminder_at(first: datetime, interval: timedelta, number: int) -> datetime:
    """Reminder NUMBER (1-based), counted from the first one."""
    return plus(first, (number - 1) * interval)


def latest_due_number(first: datetime, interval: timedelta, now: datetime) -> int:
    """The highest reminder number whose instant is not after NOW (0 before the first one).

    A worker that was down over several reminder instants sends only the latest one: the lead taker
    gets one mail that the lead is overdue, not a burst of stale ones.
    """
    if now < first:
        return 0
    return (now - first) // interval + 1


def appointment_hold(starts_at: datetime, ends_at: datetime, created_at: datetime) -> datetime | None:
    """An appointment resolves the episode only if it lay in the future when it was entered (seed 004);
    the lead is then held until the appointment ends."""
    return ends_at if starts_at > created_at else None


def task_hold(created_at: datetime, due_at: datetime | None) -> datetime:
    """A task holds the lead until it is due (at least until it was created)."""
    return created_at if due_at is None else max(created_at, due_at)


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
