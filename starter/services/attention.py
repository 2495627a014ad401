""" "Needs attention": workflows that do not move on by themselves, for /healthz, /metrics and the dashboard.

Two kinds, each counted where it is recorded:
- workflows whose workflow tasks keep failing (a bug, a non-determinism): Temporal flags them with the
  system search attribute `TemporalReportedProblems` once `system.numConsecutiveWorkflowTaskProblemsToTrigger-
  SearchAttribute` consecutive tasks failed (`immoflow dev` sets it to 2; set it on your cluster too);
- deliveries retried ATTENTION_ATTEMPTS times or more (SMTP refusing for hours): the outbox row counts its
  attempts, so no scan of running workflows is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from temporalio.client import Client

from db.models import Message
from db.models.messaging import MessageStatus
from db.session import SessionFactory

if TYPE_CHECKING:
    from starter.services.context import Services

log = logging.getLogger(__name__)

ATTENTION_QUERY = "ExecutionStatus = 'Running' AND TemporalReportedProblems IS NOT NULL"
ATTENTION_ATTEMPTS = 5  # a few retries are weather (greylisting, a restart); five in a row are a problem
COUNT_TIMEOUT_SECONDS = 3.0
# The dev server's flag that makes Temporal flag such workflows (see the module docstring).
TASK_PROBLEMS_FLAG = ("--dynamic-config-value", "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2")


@dataclass(frozen=True)
class Attention:
    failing_workflow_tasks: int | None  # None: Temporal could not be asked
    retrying_deliveries: int

    @property
    def total(self) -> int:
        return (self.failing_workflow_tasks or 0) + self.retrying_deliveries


async def failing_workflow_tasks(connect: Callable[[], Awaitable[Client]]) -> int | None:
    try:
        async with asyncio.timeout(COUNT_TIMEOUT_SECONDS):  # a page or a scrape never waits on Temporal
            client = await connect()
            return (await client.count_workflows(ATTENTION_QUERY)).count
    except Exception as exc:  # an older cluster without the attribute, or Temporal away: unknown, not zero
        log.info("needs attention: workflow count unavailable: %s", exc)
        return None


async def retrying_deliveries(sessions: SessionFactory, attempts: int = ATTENTION_ATTEMPTS) -> int:
    async with sessions() as session:
        query = select(func.count()).where(Message.status == MessageStatus.RETRYING, Message.attempts >= attempts)
        return int(await session.scalar(query) or 0)


async def needs_attention(sessions: SessionFactory, connect: Callable[[], Awaitable[Client]]) -> Attention:
    workflows = await failing_workflow_tasks(connect)
    return Attention(failing_workflow_tasks=workflows, retrying_deliveries=await retrying_deliveries(sessions))


async def office_attention(services: Services) -> Attention:
    """What needs the office's attention now, for the dashboard banner, /healthz and /metrics alike."""
    return await needs_attention(services.sessions, services.temporal)


def attention_metric(attention: Attention) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "immoflow_needs_attention",
        "Workflows that do not move on by themselves: failing workflow tasks, deliveries retried "
        f"{ATTENTION_ATTEMPTS}+ times (kind workflow_task is absent when Temporal could not be asked).",
        labels=["kind"],
    )
    if attention.failing_workflow_tasks is not None:
        gauge.add_metric(["workflow_task"], attention.failing_workflow_tasks)
    gauge.add_metric(["delivery"], attention.retrying_deliveries)
    return gauge
