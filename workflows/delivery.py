"""Sending one outbox message from a workflow: the same timeouts for every workflow that mails.

The delivery activity heartbeats while its transport talks to the SMTP server or SMS gateway, so a worker
that dies mid-send is noticed after DELIVERY_HEARTBEAT instead of the whole DELIVERY_TIMEOUT; the outbox
row's lease is renewed on the same beat and runs out just as quickly (messaging/outbox_delivery.py), so the retry
on another worker can claim the row at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.messages import LEASE, DeliveryResult, MessageActivities

A = TypeVar("A")
R = TypeVar("R")

# One UPDATE of the outbox row; an outage delays it like any database step.
WITHDRAW_TIMEOUT = timedelta(seconds=30)
WITHDRAW_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# A whole SMTP conversation: connect, TLS, MAIL, RCPT, DATA, each bounded by IMMOFLOW_SMTP_TIMEOUT_SECONDS.
DELIVERY_TIMEOUT = timedelta(seconds=90)
# A silent worker is given up after one lease: by then its claim on the row has run out as well.
DELIVERY_HEARTBEAT = LEASE
# SMTP may be down for hours: keep trying with growing pauses; the outbox row makes retries safe.
DELIVERY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))


async def withdraw(message_id: int, summary: str) -> DeliveryResult:
    """Mark the composed, not yet claimed outbox message `message_id` as not to be sent."""
    result: DeliveryResult = await workflow.execute_activity_method(
        MessageActivities.withdraw_message,
        message_id,
        start_to_close_timeout=WITHDRAW_TIMEOUT,
        retry_policy=WITHDRAW_RETRY,
        summary=summary,
    )
    return result


async def run_sending(
    activity: Callable[[Any, A], Awaitable[R]],
    arg: A,
    summary: str,
    *,
    retry_policy: RetryPolicy = DELIVERY_RETRY,
    give_up_after: timedelta | None = None,
) -> R:
    """Run an activity that holds an SMTP conversation (the delivery, or one that composes and sends): the
    delivery's timeout and heartbeat; retried until it succeeds, or until `give_up_after`."""
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=DELIVERY_TIMEOUT,
        heartbeat_timeout=DELIVERY_HEARTBEAT,
        schedule_to_close_timeout=give_up_after,
        retry_policy=retry_policy,
        summary=summary,
    )


async def deliver(
    message_id: int,
    summary: str,
    *,
    retry_policy: RetryPolicy = DELIVERY_RETRY,
    give_up_after: timedelta | None = None,
) -> DeliveryResult:
    """Deliver the composed outbox message `message_id`; retried until sent, or until `give_up_after`."""
    return await run_sending(
        MessageActivities.deliver_message, message_id, summary, retry_policy=retry_policy, give_up_after=give_up_after
    )
