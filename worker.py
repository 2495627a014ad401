"""Builds the immoflow worker (every workflow and activity) and runs it with the event dispatcher.

`python worker.py` or `immoflow worker`. SIGTERM/SIGINT drain gracefully: running activities get
`graceful_shutdown_timeout` to finish, then the process exits; Temporal hands open work to other workers.
The worker joins the worker deployment of the settings as its build (Worker Versioning,
starter/temporal/deployments.py) and, by IMMOFLOW_DEPLOYMENT_PROMOTE, makes that build current.
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities.automations import AutomationActivities
from activities.consent_mail import ConsentActivities
from activities.inquiries import InquiryActivities
from activities.leads import LeadActivities
from activities.mailbox import MailboxActivities
from activities.messages import MessageActivities, SmtpTransport
from activities.permanent_errors import PermanentErrorsInterceptor
from activities.retention import RetentionActivities
from activities.slot_requests import SlotRequestActivities
from activities.widerruf import WiderrufActivities
from db.session import SessionFactory, engine_from_settings, make_session_factory
from messaging.sms import sms_transport
from messaging.transport import Transport
from settings import Settings, get_settings
from starter.events.dispatcher import Dispatcher
from starter.events.routing import routing_table
from starter.intake.mail_service import MailIntakeService
from starter.intake.service import IntakeService
from starter.intake.starting import temporal_starter
from starter.ops.metrics import sdk_runtime
from starter.temporal.client import connect_client
from starter.temporal.deployments import promote_at_start, worker_deployment_config
from starter.temporal.mailboxes import sync_mailbox_workflows
from workflows.account_mail import AccountMailWorkflow
from workflows.automation import AutomationRunWorkflow
from workflows.birthday_scan import BirthdayScanWorkflow
from workflows.consent import ConsentMailWorkflow
from workflows.inquiry import InquiryWorkflow
from workflows.lead import LeadWorkflow
from workflows.mailbox import MailboxWorkflow
from workflows.retention_scan import RetentionScanWorkflow
from workflows.slot_request import TimeSlotRequestWorkflow

log = logging.getLogger("immoflow.worker")

WORKFLOWS: Sequence[type] = (
    InquiryWorkflow,
    LeadWorkflow,
    TimeSlotRequestWorkflow,
    AutomationRunWorkflow,
    BirthdayScanWorkflow,
    MailboxWorkflow,
    ConsentMailWorkflow,
    RetentionScanWorkflow,
    AccountMailWorkflow,
)
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
# Failures no retry can fix (invalid data, unencodable text) end the activity for good, with the reason.
INTERCEPTORS = [PermanentErrorsInterceptor()]


def build_activities(
    settings: Settings,
    sessions: SessionFactory,
    transports: dict[str, Transport] | None = None,
    *,
    client: Client | None = None,
    task_queue: str | None = None,
) -> list[Callable[..., Any]]:
    if transports is None:
        transports = {"email": SmtpTransport(settings), "sms": sms_transport(settings)}
    messages = MessageActivities(sessions, transports)
    inquiries = InquiryActivities(sessions, settings, messages.delivery)
    leads = LeadActivities(sessions, settings, messages.delivery)
    slots = SlotRequestActivities(sessions, settings)
    automations = AutomationActivities(sessions, settings)
    # Mail intake starts each inquiry's workflow at once, as the HTTP intake does (CLIENT given); without a
    # client, or while Temporal is away, the dispatcher starts it from the `inquiry.received` event.
    starter = None
    if client is not None:
        connected = client

        async def connect() -> Client:
            return connected

        starter = temporal_starter(connect, task_queue or settings.task_queue)
    intake = IntakeService(sessions, start_workflow=starter, time_zone=settings.time_zone)
    mail_intake = MailIntakeService(sessions, intake)
    mailboxes = MailboxActivities(sessions, settings, mail_intake)
    consent = ConsentActivities(sessions, settings)
    retention = RetentionActivities(sessions, settings)
    return [
        messages.deliver_message,
        messages.withdraw_message,
        *inquiries.all(),
        *leads.all(),
        *slots.all(),
        *automations.all(),
        *mailboxes.all(),
        consent.compose_consent_mail,
        WiderrufActivities(sessions, settings).widerruf_wait,
        retention.plan_retention,
        retention.erase_contact_for_retention,
    ]


# The workflows' contracts (pydantic models, the same set tests/test_sandbox.py allows) pass through the
# sandbox wherever they are imported from, not only where a workflow module imports them under
# `imports_passed_through()`. domain.lead_clock imports workflows.lead_models, and without this rule every new
# LeadWorkflow sandbox (each cache miss: a reminder at 07:00 for a lead the cache evicted) rebuilt its 17
# pydantic classes: a quarter of the CPU of replaying a lead, and memory for every cached one.
CONTRACT_MODULES = (
    "workflows.shared",
    "domain.slot_routing",
    *sorted(
        f"workflows.{module.name}"
        for module in pkgutil.iter_modules(workflows.__path__)
        if module.name.endswith("_models")
    ),
)


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*CONTRACT_MODULES))


def build_worker(
    client: Client,
    settings: Settings,
    sessions: SessionFactory,
    *,
    task_queue: str,
    deployment: WorkerDeploymentConfig | None = None,
) -> Worker:
    """DEPLOYMENT: the worker deployment version it joins (Worker Versioning; every workflow type declares
    PINNED or AUTO_UPGRADE). `None` only against servers that ignore versioning (the time-skipping test server):
    a real server refuses a declared behaviour from an unversioned worker."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=workflow_runner(),
        activities=build_activities(settings, sessions, client=client, task_queue=task_queue),
        interceptors=INTERCEPTORS,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        deployment_config=deployment,
    )


async def connect_with_retry(settings: Settings, attempts: int = 60) -> Client:
    """The dev stack starts the server and the worker together: wait for the server instead of dying."""
    # The SDK's Prometheus endpoint (IMMOFLOW_WORKER_METRICS_BIND) lives in the client's runtime; made
    # outside the loop so a port already in use fails at once instead of looking like Temporal being down.
    runtime = sdk_runtime(settings)
    for attempt in range(1, attempts + 1):
        try:
            return await connect_client(settings, runtime=runtime)
        except RuntimeError as exc:
            if attempt == attempts:
                raise
            log.info("temporal not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    client = await connect_with_retry(settings)
    engine = engine_from_settings(settings)
    sessions = make_session_factory(engine)
    deployment = worker_deployment_config(settings)
    worker = build_worker(client, settings, sessions, task_queue=settings.task_queue, deployment=deployment)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(worker.run(), name="worker")]
    if settings.run_dispatcher:
        dispatcher = Dispatcher(sessions, client, routing_table(), poll_seconds=settings.dispatcher_poll_seconds)
        tasks.append(asyncio.create_task(dispatcher.run_forever(stop), name="dispatcher"))
    try:
        await sync_mailbox_workflows(client, sessions, settings.task_queue)
    except Exception:  # a watcher not started now is started by the next `mailbox.changed` or restart
        log.exception("mailbox watchers not ensured")
    log.info("worker running on task queue %s", settings.task_queue)
    stopper = asyncio.create_task(stop.wait())
    # Before saying it runs: on a new install nothing is routed to a versioned worker until a version is current.
    promotion = asyncio.create_task(promote_at_start(client, deployment.version, settings.deployment_promote))
    await asyncio.wait([promotion, stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if not promotion.done():
        promotion.cancel()
    elif promotion.exception() is not None:
        # Not fatal: the worker serves what is routed to it; the operator promotes by hand.
        log.error("could not make this build current: %s", promotion.exception())
    else:
        version = deployment.version.to_canonical_string()
        log.info("worker running on task queue %s as %s", settings.task_queue, version)
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    log.info("shutting down worker")
    await worker.shutdown()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    await engine.dispose()
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def main() -> None:
    from starter.ops.logs import configure_logging
    from starter.ops.process import exit_cleanly

    configure_logging(get_settings())
    exit_cleanly(lambda: asyncio.run(run_worker()))


if __name__ == "__main__":
    main()
