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


# A local activity's failure reaches the workflow as the activity's own ApplicationError, not wrapped in an
# ActivityError as a (remote) activity's is: a workflow catching both reads them alike through these helpers.
ActivityFailure = ActivityError | ApplicationError


def _cause(err: ActivityFailure) -> BaseException | None:
    return err.cause if isinstance(err, ActivityError) else err


def failure_message(err: ActivityFailure) -> str:
    """What a person reads: the activity's own message (German, where the activity wrote one)."""
    cause = _cause(err)
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


def failure_detail(err: ActivityFailure) -> str:
    """What ops read: the error type with its message."""
    cause = _cause(err)
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'ApplicationError'}: {cause.message}"
    return f"{type(cause or err).__name__}: {cause or err}"


def failure_type(err: ActivityFailure) -> str | None:
    cause = _cause(err)
    return cause.type if isinstance(cause, ApplicationError) else None
