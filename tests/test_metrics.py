"""Prometheus: /metrics of the web app (domain numbers from the database, HTTP) and the worker's SDK metrics."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from db.base import utcnow
from db.models import DomainEvent, Inquiry, Message
from db.session import SessionFactory, create_engine, make_session_factory
from settings import Settings
from starter.dev.config import free_port
from starter.ops.metrics import domain_registry, quantile, read_snapshot, sdk_runtime
from starter.temporal.client import data_converter
from web.app import create_app

_ids = iter(range(1, 1_000_000))


def inquiry(status: str, *, next_step_at: datetime | None = None) -> Inquiry:
    n = next(_ids)
    return Inquiry(
        source="immoscout24",
        external_id=f"m-{n}",
        property_ref="W-1001",
        email=f"p{n}@example.com",
        received_at=utcnow(),
        workflow_id=f"inquiry-immoscout24-m-{n}",
        status=status,
        next_step_at=next_step_at,
    )


def message(
    status: str, *, channel: str = "email", created: datetime | None = None, sent: datetime | None = None
) -> Message:
    n = next(_ids)
    return Message(
        idempotency_key=f"test:{n}",
        channel=channel,
        sender="office@example.com",
        recipient=f"p{n}@example.com",
        body_text="Hallo",
        status=status,
        created_at=created or utcnow(),
        sent_at=sent,
    )


async def seed(sessions: SessionFactory, now: datetime) -> None:
    async with sessions.begin() as session:
        session.add_all(
            [
                inquiry("waiting_for_confirmation", next_step_at=now - timedelta(minutes=30)),
                inquiry("waiting_for_confirmation", next_step_at=now + timedelta(days=1)),
                inquiry("completed", next_step_at=now - timedelta(days=3)),  # finished: not overdue
                message("sent", created=now - timedelta(seconds=40), sent=now - timedelta(seconds=30)),
                message("sent", created=now - timedelta(seconds=62), sent=now - timedelta(seconds=60)),
                message("sent", created=now - timedelta(hours=3), sent=now - timedelta(hours=2)),  # out of window
                message("failed"),
                message("pending", channel="sms"),
                DomainEvent(kind="note_added", created_at=now - timedelta(minutes=5)),
                DomainEvent(kind="task_created", error="RPCError: unavailable", attempts=3),
                DomainEvent(kind="lead_phase_changed", dispatched_at=now),
            ]
        )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_snapshot_reads_the_numbers(sessions: SessionFactory) -> None:
    now = utcnow()
    await seed(sessions, now)
    snap = await read_snapshot(sessions, now)
    assert snap.inquiries == {"waiting_for_confirmation": 2, "completed": 1}
    assert snap.messages == {("email", "sent"): 3, ("email", "failed"): 1, ("sms", "pending"): 1}
    assert (snap.events_pending, snap.events_failing) == (2, 1)
    assert snap.oldest_pending_event_age == pytest.approx(300, abs=5)
    assert snap.overdue_inquiries == 1
    assert snap.max_overdue_seconds == pytest.approx(1800, abs=5)
    assert sorted(snap.send_lags) == pytest.approx([2.0, 10.0])


async def test_domain_registry_exposes_the_named_metrics(sessions: SessionFactory) -> None:
    await seed(sessions, utcnow())
    got = samples(generate_latest(await domain_registry(sessions)).decode())
    names = {name for name, _ in got}
    assert {
        "immoflow_inquiries",
        "immoflow_messages",
        "immoflow_domain_events_pending",
        "immoflow_message_send_lag_seconds",
        "immoflow_message_send_lag_seconds_count",
        "immoflow_message_send_lag_seconds_sum",
        "immoflow_inquiry_next_step_overdue_seconds",
        "immoflow_database_up",
    } <= names
    assert got[("immoflow_messages", (("channel", "email"), ("status", "failed")))] == 1


def test_quantile_is_nearest_rank() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert [quantile(values, q) for q in (0.25, 0.5, 0.9, 1.0)] == [1.0, 2.0, 4.0, 4.0]
    assert quantile([7.0], 0.99) == 7.0


async def test_metrics_endpoint(settings: Settings, sessions: SessionFactory) -> None:
    await seed(sessions, utcnow())
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        await http.get("/metrics")
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("immoflow_inquiries", (("status", "waiting_for_confirmation"),))] == 2
    assert got[("immoflow_inquiries", (("status", "expired"),))] == 0  # known statuses are always there
    assert got[("immoflow_messages", (("channel", "email"), ("status", "sent")))] == 3
    assert got[("immoflow_messages", (("channel", "email"), ("status", "failed")))] == 1
    assert got[("immoflow_messages", (("channel", "sms"), ("status", "pending")))] == 1
    assert got[("immoflow_domain_events_pending", ())] == 2
    assert got[("immoflow_domain_events_failing", ())] == 1
    assert got[("immoflow_inquiries_overdue", ())] == 1
    assert got[("immoflow_message_send_lag_seconds_count", ())] == 2
    assert got[("immoflow_message_send_lag_seconds", (("quantile", "0.5"),))] == pytest.approx(2.0)
    assert got[("immoflow_message_send_lag_seconds", (("quantile", "0.99"),))] == pytest.approx(10.0)
    assert got[("immoflow_database_up", ())] == 1
    # The first scrape was counted by the middleware, under its route template.
    http_key = ("immoflow_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "200")))
    assert got[http_key] == 1
    assert ("immoflow_http_request_duration_seconds_count", (("method", "GET"), ("route", "/metrics"))) in got


async def test_unreadable_database_reports_down(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'no.db'}")
    try:
        text = generate_latest(await domain_registry(make_session_factory(engine))).decode()
    finally:
        await engine.dispose()
    assert samples(text) == {("immoflow_database_up", ()): 0.0}


# --- Temporal SDK runtime metrics ----------------------------------------------------------------------


@workflow.defn(name="MetricsTestWorkflow")
class NoopWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "done"


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


async def scrape_until(url: str, needle: str, within: float = 10.0) -> str:
    async with asyncio.timeout(within):
        while needle not in (text := await asyncio.to_thread(scrape, url)):  # noqa: ASYNC110  (polling a server)
            await asyncio.sleep(0.1)
    return text


async def test_worker_runtime_exports_sdk_metrics(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    assert sdk_runtime(Settings(_env_file=None)) is None
    bind = f"127.0.0.1:{free_port()}"
    settings = Settings(worker_metrics_bind=bind, _env_file=None)
    runtime = sdk_runtime(settings)
    assert runtime is not None and sdk_runtime(settings) is runtime  # one per process and address
    client = await Client.connect(
        workflow_env.client.service_client.config.target_host,
        namespace=workflow_env.client.namespace,
        data_converter=data_converter(settings),
        runtime=runtime,
    )
    async with Worker(
        client, task_queue=task_queue, workflows=[NoopWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        await client.execute_workflow(NoopWorkflow.run, id=f"metrics-{uuid.uuid4()}", task_queue=task_queue)
        # The worker counts the completion once the server acknowledged its task, which can be after the
        # client already has the result.
        text = await scrape_until(f"http://{bind}/metrics", "temporal_workflow_completed")
    assert "temporal_workflow_completed" in text
    assert f'task_queue="{task_queue}"' in text
