"""A deploy with Worker Versioning on the dev server, with the real activities, database and SMTP peer.

v1 runs inquiries and a lead; v2 (tests/versioned_workflows.py: changed commands) joins the deployment and is
made current. New inquiries run on v2, the running one finishes on v1 (pinned: v2's code could not even replay
it), the lead moves to v2 at its next task (auto-upgrade) and its history, written by both, replays on v2.
Promoting v1 again is the rollback: the next inquiry runs on v1.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker, WorkerDeploymentConfig
from temporalio.workflow import NondeterminismError, _Definition
from typer.testing import CliRunner, Result

import starter.cli
from db.session import SessionFactory
from settings import Settings, get_settings, venv_binary
from starter.events.dispatcher import Dispatcher
from starter.events.leads import LeadEventHandlers
from starter.temporal.deployments import DeploymentError, describe, promote, promote_at_start, wait_registered
from starter.temporal.setup import register_search_attributes
from tests import factories
from tests.inquiry_harness import InquiryHarness
from tests.lead_harness import PROCESS, api_client, leads_app, wait_status
from tests.versioned_workflows import CODE, InquiryWorkflowV2, LeadWorkflowV2
from worker import WORKFLOWS, build_activities
from workflows.birthday_scan import BirthdayScanWorkflow
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import InquiryState
from workflows.lead import LeadWorkflow
from workflows.lead_models import LeadResult, lead_workflow_id

DEPLOYMENT = "immoflow-deploy-test"
V1, V2 = "1.0.0+aaaaaaa", "1.1.0+bbbbbbb"
V2_WORKFLOWS = [InquiryWorkflowV2, LeadWorkflowV2, *(w for w in WORKFLOWS if w not in (InquiryWorkflow, LeadWorkflow))]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Routing between versions is under test here, not the database: SQLite only."""
    return sqlite_url


@pytest.fixture
async def dev_server() -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        ui=False,
        dev_server_log_level="error",
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(env.client)
    try:
        yield env.client
    finally:
        await env.shutdown()


def version(build: str) -> WorkerDeploymentConfig:
    return WorkerDeploymentConfig(version=WorkerDeploymentVersion(DEPLOYMENT, build), use_worker_versioning=True)


def worker(client: Client, task_queue: str, workflows: Sequence[type], activities: Any, build: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=activities,
        deployment_config=version(build),
    )


async def versioning(handle: WorkflowHandle[Any, Any]) -> tuple[str, str]:
    """(build ID, behaviour) the server routes the workflow by, after its first task."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, BEHAVIOUR.get(VersioningBehavior(info.behavior), "unspecified")


BEHAVIOUR = {VersioningBehavior.PINNED: "pinned", VersioningBehavior.AUTO_UPGRADE: "auto_upgrade"}


def task_builds(history: WorkflowHistory) -> list[str]:
    """The build of the worker that completed each workflow task, in order."""
    return [
        event.workflow_task_completed_event_attributes.deployment_version.build_id
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    ]


async def memo_code(handle: WorkflowHandle[Any, Any]) -> str | None:
    value = await (await handle.describe()).memo_value(CODE, default=None)
    return None if value is None else str(value)


async def until(predicate: Any, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 (state of the server, no event of ours)
            await asyncio.sleep(0.1)


async def promote_once_polled(client: Client, build: str) -> str | None:
    """promote(), once the server has seen BUILD's pollers on every task queue type (slow under load)."""
    async with asyncio.timeout(30):
        while True:
            try:
                return await promote(client, DEPLOYMENT, build, identity="test")
            except DeploymentError as err:
                if "missing active task queues" not in str(err):
                    raise
                await asyncio.sleep(0.2)


async def test_v2_takes_new_inquiries_v1_finishes_its_own_and_the_lead_moves(
    dev_server: Client, task_queue: str, sessions: SessionFactory, settings: Settings, engine: AsyncEngine
) -> None:
    client = dev_server
    office = await factories.office(sessions)
    contact = await factories.contact(sessions, email="kauf@example.com")
    inquiries = InquiryHarness(client, sessions, settings, task_queue)
    await inquiries.configure(followup_interval="PT10M", followup_attempts=1, final_notice="none")
    activities = build_activities(settings, sessions)
    dispatcher = Dispatcher(sessions, client, {k: [h] for k, h in LeadEventHandlers(task_queue).routes().items()})
    api = api_client(leads_app(settings, engine, sessions))

    async with api, worker(client, task_queue, WORKFLOWS, activities, V1):
        # A new install: the first build to poll becomes current (IMMOFLOW_DEPLOYMENT_PROMOTE=first).
        assert await promote_at_start(client, WorkerDeploymentVersion(DEPLOYMENT, V1), "first")
        first = await factories.inquiry(sessions, email="erste@example.com")
        running = await inquiries.start(first)
        await inquiries.wait_for_state(running, InquiryState.WAITING_FOR_CONFIRMATION)
        lead = await create_lead(api, office["agent"].id, contact.id)
        assert await dispatcher.run_once() == 2  # sales_process.changed, lead.created
        lead_handle = client.get_workflow_handle(lead_workflow_id(lead["id"]), result_type=LeadResult)
        await wait_status(lead_handle, lambda s: s.phase_id is not None)
        assert await versioning(running) == (V1, "pinned")
        assert await versioning(lead_handle) == (V1, "auto_upgrade")

        async with worker(client, task_queue, V2_WORKFLOWS, activities, V2):
            # A restarted or added build never takes over by itself once a version is current.
            assert not await promote_at_start(client, WorkerDeploymentVersion(DEPLOYMENT, V2), "first")
            assert (await describe(client, DEPLOYMENT)).current_build_id == V1  # type: ignore[union-attr]
            assert await promote_once_polled(client, V2) == V1
            status = await describe(client, DEPLOYMENT)
            assert status is not None and status.current_build_id == V2
            old = status.version(V1)
            assert old is not None and old.status == "draining"  # the inquiry pinned to it still runs

            # New inquiries run on v2.
            new = await inquiries.start(await factories.inquiry(sessions, email="zweite@example.com"))
            await inquiries.wait_for_state(new, InquiryState.WAITING_FOR_CONFIRMATION)
            assert await versioning(new) == (V2, "pinned")
            assert await memo_code(new) == "v2"

            # The running one finishes on v1: the prospect confirms, the update and the rest run there.
            [confirmation] = await inquiries.messages(first.id)
            await inquiries.confirm(running, inquiries.nonce_from(confirmation))
            assert (await running.result()).state == InquiryState.COMPLETED
            history = await running.fetch_history()
            assert set(task_builds(history)) == {V1}
            assert await memo_code(running) is None
            await Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter).replay_workflow(history)
            with pytest.raises((NondeterminismError, ApplicationError, RuntimeError)):  # what pinning spared it
                await Replayer(workflows=V2_WORKFLOWS, data_converter=pydantic_data_converter).replay_workflow(history)

            # The lead moves to v2 at its next task (a phase change), and takes v2's patched branch there.
            second_phase = lead["process_phases"][1]
            await post(api, f"/api/leads/{lead['id']}/phase", {"phase_id": second_phase})
            assert await dispatcher.run_once() == 2  # contact.created (the confirmation), lead.phase_changed
            await wait_status(lead_handle, lambda s: s.phase_id == second_phase)
            await until(lambda: _is(memo_code(lead_handle), "v2"))
            assert await versioning(lead_handle) == (V2, "auto_upgrade")
            lead_history = await lead_handle.fetch_history()
            builds = task_builds(lead_history)
            assert builds[0] == V1 and builds[-1] == V2, builds
            # Its recorded history, half v1 and half v2, replays on the code now current.
            await Replayer(workflows=V2_WORKFLOWS, data_converter=pydantic_data_converter).replay_workflow(lead_history)

            # Rollback is one switch back, as long as v1's workers run: the next inquiry starts on v1.
            assert await promote_once_polled(client, V1) == V2
            rolled_back = await inquiries.start(await factories.inquiry(sessions, email="dritte@example.com"))
            await inquiries.wait_for_state(rolled_back, InquiryState.WAITING_FOR_CONFIRMATION)
            assert await versioning(rolled_back) == (V1, "pinned")
            assert await memo_code(rolled_back) is None
            # v2's inquiry still runs on v2: pinned both ways.
            assert await versioning(new) == (V2, "pinned")
            for handle in (new, rolled_back, lead_handle):
                await handle.terminate("test finished")
            assert (await new.describe()).status == WorkflowExecutionStatus.TERMINATED


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)


async def post(api: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=payload)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def create_lead(api: httpx.AsyncClient, taker_id: int, contact_id: int) -> dict[str, Any]:
    process = await post(api, "/api/sales-processes", PROCESS)
    payload = {
        "title": "Familie Kauf",
        "contact_id": contact_id,
        "process_id": process["id"],
        "taker_user_id": taker_id,
    }
    lead = await post(api, "/api/leads", payload)
    return {**lead, "process_phases": [phase["id"] for phase in process["phases"]]}


# --- declarations and the command line --------------------------------------------------------------------


def test_every_workflow_type_declares_its_versioning_behaviour() -> None:
    declared = {defn.name: defn.versioning_behavior for defn in map(_Definition.must_from_class, WORKFLOWS)}
    assert declared == {
        "InquiryWorkflow": VersioningBehavior.PINNED,
        "TimeSlotRequestWorkflow": VersioningBehavior.PINNED,
        "AutomationRunWorkflow": VersioningBehavior.PINNED,
        "BirthdayScanWorkflow": VersioningBehavior.PINNED,
        "LeadWorkflow": VersioningBehavior.AUTO_UPGRADE,
        "AccountMailWorkflow": VersioningBehavior.PINNED,
        "ConsentMailWorkflow": VersioningBehavior.PINNED,
        "RetentionScanWorkflow": VersioningBehavior.PINNED,
        "MailboxWorkflow": VersioningBehavior.AUTO_UPGRADE,
    }


def immoflow(*argv: str, address: str) -> Result:
    """`immoflow ARGV` in a thread of its own (the command runs its own event loop), settings from ENV."""
    get_settings.cache_clear()
    env = {"IMMOFLOW_TEMPORAL_ADDRESS": address, "IMMOFLOW_DEPLOYMENT_NAME": DEPLOYMENT}
    try:
        return CliRunner().invoke(starter.cli.app, list(argv), env=env)
    finally:
        get_settings.cache_clear()


async def test_deploy_commands_show_ramp_and_switch_the_current_build(dev_server: Client, task_queue: str) -> None:
    starter.cli._register_groups()
    address = dev_server.service_client.config.target_host
    run = partial(asyncio.to_thread, immoflow, address=address)
    assert "no worker has polled yet" in (await run("deploy", "status")).output
    async with (
        worker(dev_server, task_queue, [BirthdayScanWorkflow], [], V1),
        worker(dev_server, task_queue, [BirthdayScanWorkflow], [], V2),
    ):
        for build in (V1, V2):
            await wait_registered(dev_server, WorkerDeploymentVersion(DEPLOYMENT, build), within=30)
        status = await run("deploy", "status")
        assert status.exit_code == 0 and "current: unversioned workers" in status.output, status.output

        promoted = await run("deploy", "promote", V1)
        assert promoted.exit_code == 0, promoted.output
        assert f"current is {V1} (was unversioned workers)" in promoted.output
        ramped = await run("deploy", "ramp", V2, "25")
        assert ramped.exit_code == 0 and "25 % of new workflows" in ramped.output, ramped.output
        status = await run("deploy", "status")
        assert f"current: {V1}" in status.output and f"ramping: {V2} (25 %" in status.output, status.output
        assert re.search(rf"^{re.escape(V1)}\s+current\s", status.output, re.M), status.output

        assert (await run("deploy", "promote", V2)).exit_code == 0
        refused = await run("deploy", "promote", "9.9.9+nobody")
        assert refused.exit_code == 1 and "cannot make 9.9.9+nobody current" in refused.output, refused.output
        described = await describe(dev_server, DEPLOYMENT)
        assert described is not None and described.current_build_id == V2 and described.ramping_build_id is None


async def test_replicas_of_one_build_starting_together_promote_it_once(dev_server: Client, task_queue: str) -> None:
    """Two workers of one build start at once (compose `--scale worker=2`): one promotes, both come up."""
    other = await Client.connect(dev_server.service_client.config.target_host, namespace=dev_server.namespace)
    config = version(V1)
    async with (
        worker(dev_server, task_queue, [BirthdayScanWorkflow], [], V1),
        worker(other, task_queue, [BirthdayScanWorkflow], [], V1),
    ):
        clients = (dev_server, other, dev_server, other)
        promoted = await asyncio.gather(*(promote_at_start(c, config.version, "first") for c in clients))
    assert sorted(promoted) == [False, False, False, True]
    status = await describe(dev_server, DEPLOYMENT)
    assert status is not None and status.current_build_id == V1
