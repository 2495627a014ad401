"""Bounds for instants people type, and date arithmetic that saturates instead of overflowing.

`9999-12-31T23:59:59Z` is a common way to write "no due date"; Python's datetime ends in year 9999, so
adding a phase duration to it raised OverflowError inside a workflow task, which then failed forever.
Inputs are bounded (ACCEPTED_FROM..ACCEPTED_UNTIL) where they enter, and the schedule's sums stop at
NEVER: far enough to mean "not in this lead's life", near enough for any timer (Temporal's durations
are int64 nanoseconds, about 292 years).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

ACCEPTED_FROM = datetime(1900, 1, 1, tzinfo=UTC)
ACCEPTED_UNTIL = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
NEVER = datetime(2200, 1, 1, tzinfo=UTC)
_NAIVE_FROM, _NAIVE_UNTIL = ACCEPTED_FROM.replace(tzinfo=None), ACCEPTED_UNTIL.replace(tzinfo=None)


def plus(instant: datetime, delta: timedelta) -> datetime:
    """INSTANT + DELTA, but never past NEVER (and never an OverflowError)."""
    if instant >= NEVER:
        return NEVER
    try:
        result = instant + delta
    except OverflowError:
        return NEVER if delta > timedelta(0) else datetime.min.replace(tzinfo=UTC)
    return min(result, NEVER)


def bounded(value: datetime) -> datetime:
    """Refuses instants outside ACCEPTED_FROM..ACCEPTED_UNTIL, naming the range (pydantic AfterValidator)."""
    # Compare before converting: 9999-12-31T23:00-10:00 is past year 9999 in UTC and cannot be converted.
    low, high = (ACCEPTED_FROM, ACCEPTED_UNTIL) if value.tzinfo else (_NAIVE_FROM, _NAIVE_UNTIL)
    if not ACCEPTED_FROM.year <= value.year <= ACCEPTED_UNTIL.year or not low <= value <= high:
        raise ValueError("Zeitpunkt außerhalb des erlaubten Bereichs (Jahre 1900 bis 2100)")
    return value


BoundedInstant = Annotated[AwareDatetime, AfterValidator(bounded)]
