"""Prometheus metrics: the Temporal SDK runtime's (worker) and immoflow's own, read from the database.

The domain numbers are computed from the database at scrape time instead of being counted in process
memory: the worker sends the mail and the web app serves /metrics, several replicas may run, and any of
them restarts without the numbers jumping.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from db.base import utcnow
from db.models import DomainEvent, InboundKind, InboundMail, InboundStatus, Inquiry, Message
from db.models.inquiries import InquiryStatus
from db.models.messaging import MessageStatus
from db.session import SessionFactory
from settings import Settings

LAG_WINDOW = timedelta(hours=1)
LAG_QUANTILES = (0.5, 0.9, 0.99)
# Bounds the rows one scrape reads; an office sends far fewer mails an hour than this.
LAG_MAX_ROWS = 10_000
QUERY_TIMEOUT_SECONDS = 5.0
ACTIVE_INQUIRY_STATUSES = (InquiryStatus.RECEIVED, InquiryStatus.PROCESSING, InquiryStatus.WAITING_FOR_CONFIRMATION)
KNOWN_CHANNELS = ("email", "sms")

log = logging.getLogger(__name__)

# --- Temporal SDK runtime (worker) ----------------------------------------------------------------------

_runtimes: dict[str, Runtime] = {}


def sdk_runtime(settings: Settings) -> Runtime | None:
    """A runtime exporting the SDK's metrics on IMMOFLOW_WORKER_METRICS_BIND, or None (the SDK default).

    One per process and bind address: each runtime owns a thread pool and the listening socket, and the
    worker reconnects while Temporal starts up.
    """
    bind = settings.worker_metrics_bind
    if not bind:
        return None
    if bind not in _runtimes:
        _runtimes[bind] = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind)))
    return _runtimes[bind]


# --- Domain metrics from the database -------------------------------------------------------------------


@dataclass
class Snapshot:
    """What one scrape read from the database."""

    inquiries: dict[str, int] = field(default_factory=dict)
    messages: dict[tuple[str, str], int] = field(default_factory=dict)
    events_pending: int = 0
    events_failing: int = 0
    oldest_pending_event_age: float = 0.0
    overdue_inquiries: int = 0
    max_overdue_seconds: float = 0.0
    send_lags: list[float] = field(default_factory=list)
    inbound_mails: dict[tuple[str, str], int] = field(default_factory=dict)


def _age(now: datetime, then: datetime | None) -> float:
    return max((now - then).total_seconds(), 0.0) if then is not None else 0.0


async def read_snapshot(sessions: SessionFactory, now: datetime | None = None) -> Snapshot:
    now = now or utcnow()
    snap = Snapshot()
    async with sessions() as session:
        for status, count in await session.execute(select(Inquiry.status, func.count()).group_by(Inquiry.status)):
            snap.inquiries[status] = count
        rows = await session.execute(
            select(Message.channel, Message.status, func.count()).group_by(Message.channel, Message.status)
        )
        for channel, status, count in rows:
            snap.messages[(channel, status)] = count
        pending = DomainEvent.dispatched_at.is_(None)
        count, failing, oldest = (
            await session.execute(
                select(func.count(), func.count(DomainEvent.error), func.min(DomainEvent.created_at)).where(pending)
            )
        ).one()
        snap.events_pending, snap.events_failing = count, failing
        snap.oldest_pending_event_age = _age(now, oldest)
        # A waiting inquiry whose next step is in the past means timers are not firing (no worker?).
        count, earliest = (
            await session.execute(
                select(func.count(), func.min(Inquiry.next_step_at)).where(
                    Inquiry.status.in_([str(s) for s in ACTIVE_INQUIRY_STATUSES]), Inquiry.next_step_at < now
                )
            )
        ).one()
        snap.overdue_inquiries, snap.max_overdue_seconds = count, _age(now, earliest)
        lags = await session.execute(
            select(Message.created_at, Message.sent_at)
            .where(Message.status == MessageStatus.SENT, Message.sent_at >= now - LAG_WINDOW)
            .order_by(Message.sent_at.desc())
            .limit(LAG_MAX_ROWS)
        )
        snap.send_lags = [_age(sent_at, created_at) for created_at, sent_at in lags if sent_at is not None]
        mails = await session.execute(
            select(InboundMail.kind, InboundMail.status, func.count()).group_by(InboundMail.kind, InboundMail.status)
        )
        for kind, status, count in mails:
            snap.inbound_mails[(kind or "pending", status)] = count
    return snap


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile: always a value that was observed."""
    index = max(math.ceil(q * len(sorted_values)) - 1, 0)
    return sorted_values[index]


def families(snap: Snapshot) -> Iterable[Metric]:
    inquiries = GaugeMetricFamily("immoflow_inquiries", "Inquiries by status.", labels=["status"])
    # Every known status is exported, also at zero, so alerts and graphs see 0 instead of no series.
    for status in sorted({str(s) for s in InquiryStatus} | set(snap.inquiries)):
        inquiries.add_metric([status], snap.inquiries.get(status, 0))
    yield inquiries

    messages = GaugeMetricFamily(
        "immoflow_messages",
        "Outbox messages by channel and status (sent, failed, pending, …).",
        labels=["channel", "status"],
    )
    channels = set(KNOWN_CHANNELS) | {channel for channel, _ in snap.messages}
    statuses = {str(s) for s in MessageStatus} | {status for _, status in snap.messages}
    for channel in sorted(channels):
        for status in sorted(statuses):
            messages.add_metric([channel, status], snap.messages.get((channel, status), 0))
    yield messages

    yield GaugeMetricFamily(
        "immoflow_domain_events_pending", "Domain events not yet delivered to workflows.", value=snap.events_pending
    )
    yield GaugeMetricFamily(
        "immoflow_domain_events_failing",
        "Undelivered domain events whose last delivery attempt failed.",
        value=snap.events_failing,
    )
    yield GaugeMetricFamily(
        "immoflow_domain_event_oldest_pending_age_seconds",
        "Age of the oldest undelivered domain event (0 when none).",
        value=snap.oldest_pending_event_age,
    )
    yield GaugeMetricFamily(
        "immoflow_inquiries_overdue",
        "Active inquiries whose next step (reminder, expiry) is due but has not happened.",
        value=snap.overdue_inquiries,
    )
    yield GaugeMetricFamily(
        "immoflow_inquiry_next_step_overdue_seconds",
        "How late the most overdue next step of an active inquiry is (0 when none).",
        value=snap.max_overdue_seconds,
    )

    # A summary over a sliding window: the quantiles are the signal; _count/_sum describe the window and,
    # unlike a process-local summary, may go down, so take no rate() of them.
    name = "immoflow_message_send_lag_seconds"
    lag = Metric(name, "sent_at - created_at of messages sent in the last hour (outbox to SMTP/SMS).", "summary")
    values = sorted(snap.send_lags)
    if values:
        for q in LAG_QUANTILES:
            lag.add_sample(name, {"quantile": str(q)}, quantile(values, q))
    lag.add_sample(name + "_count", {}, float(len(values)))
    lag.add_sample(name + "_sum", {}, float(sum(values)))
    yield lag

    # Fetched = all rows; parsed = kind inquiry; unrecognised, replies and bounces by their kind.
    inbound = GaugeMetricFamily(
        "immoflow_inbound_mails",
        "Mails fetched from the office mailboxes, by kind (inquiry, reply, bounce, auto_reply, unrecognised) "
        "and status (stored, processed, unrecognised, assigned, discarded).",
        labels=["kind", "status"],
    )
    for kind in sorted({str(k) for k in InboundKind} | {k for k, _ in snap.inbound_mails}):
        for status in sorted({str(s) for s in InboundStatus} | {s for _, s in snap.inbound_mails}):
            inbound.add_metric([kind, status], snap.inbound_mails.get((kind, status), 0))
    yield inbound


class _Fixed(Collector):
    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


async def domain_registry(sessions: SessionFactory) -> CollectorRegistry:
    """A registry for one scrape. If the database cannot be read, only `immoflow_database_up 0` is in it."""
    registry = CollectorRegistry(auto_describe=False)
    metrics: list[Metric] = []
    try:
        snap = await asyncio.wait_for(read_snapshot(sessions), QUERY_TIMEOUT_SECONDS)
    except Exception:
        log.warning("metrics: database not readable", exc_info=True)
        up = 0.0
    else:
        up = 1.0
        metrics.extend(families(snap))
    metrics.append(GaugeMetricFamily("immoflow_database_up", "1 when /metrics could read the database.", value=up))
    registry.register(_Fixed(metrics))
    return registry
