"""What every workflow does alike: the retry policy of database work, and how an activity failure reads.

Deterministic helpers only (imported into the workflow sandbox beside the workflows).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

# Database work is quick; an outage should delay the workflow, never fail it.
DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


class RejectedError(ApplicationError):
    """An update (a link answered, a choice) refused before it enters history; `type` tells the page which answer."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message, type=kind, non_retryable=True)


def failure_message(err: ActivityError) -> str:
    """What a person reads: the activity's own message (German, where the activity wrote one)."""
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


def failure_detail(err: ActivityError) -> str:
    """What ops read: the error type with its message."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'ApplicationError'}: {cause.message}"
    return f"{type(cause or err).__name__}: {cause or err}"


def failure_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None
