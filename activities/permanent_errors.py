"""Failures no retry can fix end the activity for good: non-retryable, with the reason.

Activities retry until they succeed by policy (an outage should delay an inquiry, never fail it). But data
that does not validate, a text that cannot be encoded, a number out of range stays so on every attempt;
retried forever, the workflow sits in "processing" with no sign of trouble. The worker's interceptor turns
these into a non-retryable ApplicationError, so the workflow's own handling ends the step as `failed` with
the reason (dashboard and Temporal UI). Outages (connections, timeouts, locks) stay retryable.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DataError
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

PERMANENT: tuple[type[BaseException], ...] = (ValidationError, UnicodeError, OverflowError, DataError)
MAX_REASON = 500


def reason(exc: BaseException) -> str:
    """The failure for the history, without the input values (personal data stays in the database)."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        return f"{exc.title}: {problems}"[:MAX_REASON]
    return f"{type(exc).__name__}: {exc}"[:MAX_REASON]


class _PermanentErrorsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except PERMANENT as exc:
            raise ApplicationError(reason(exc), type=f"Permanent{type(exc).__name__}", non_retryable=True) from exc


class PermanentErrorsInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _PermanentErrorsInbound(next)
