"""Workflow code runs inside Temporal's sandbox: a non-deterministic call in it fails the workflow task.

Only models, activity stubs and pure libraries may be passed through (workflows/*_models.py, shared.py and
slot_routing.py, whose models travel in payloads); the rest of the workflow code is imported through the
sandbox, which is what makes the check below apply to it.
"""

from __future__ import annotations

import ast
import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from tests.sandbox_probe import ContractIdentityProbe, SandboxedProbe
from worker import CONTRACT_MODULES, workflow_runner
from workflows.lead_models import LeadSnapshot

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
PASSED_THROUGH_OK = ("activities.", *CONTRACT_MODULES)  # activity stubs, and the runner's own list


def passed_through(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0].context_expr):
            found += [n.module or "" for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
    return found


@pytest.mark.parametrize("path", sorted(WORKFLOWS_DIR.glob("*.py")), ids=lambda p: p.stem)
def test_only_models_activity_stubs_and_pure_libraries_pass_through(path: Path) -> None:
    wrong = [
        module
        for module in passed_through(path)
        if not (module.startswith(PASSED_THROUGH_OK) or module.endswith("_models"))
    ]
    assert not wrong, f"{path.name} passes workflow logic through the sandbox unchecked: {wrong}"


@pytest.mark.timeout(60)
async def test_datetime_now_in_workflow_code_fails_the_workflow_task(workflow_env: WorkflowEnvironment) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    # The production worker's runner: passing the contracts through must not pass the logic through.
    async with Worker(
        workflow_env.client, task_queue=task_queue, workflows=[SandboxedProbe], workflow_runner=workflow_runner()
    ):
        handle = await workflow_env.client.start_workflow(
            SandboxedProbe.run, id=f"probe-{uuid.uuid4()}", task_queue=task_queue
        )
        async with asyncio.timeout(30):
            while True:
                history = await handle.fetch_history()
                failed = [
                    e.workflow_task_failed_event_attributes.failure.message
                    for e in history.events
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                ]
                if failed:
                    break
                await asyncio.sleep(0.1)
        await handle.terminate()
    assert "Cannot access datetime.datetime.now" in failed[0]


@pytest.mark.timeout(60)
async def test_contracts_imported_by_workflow_logic_are_the_hosts_classes(workflow_env: WorkflowEnvironment) -> None:
    # Rebuilt inside every new sandbox, a contract's pydantic classes cost CPU at each cache miss and memory
    # for each cached workflow; the default runner does rebuild them, the production runner must not.
    task_queue = f"tq-{uuid.uuid4()}"
    seen: dict[str, int] = {}
    for name, runner in (("default", SandboxedWorkflowRunner()), ("production", workflow_runner())):
        async with Worker(
            workflow_env.client, task_queue=task_queue, workflows=[ContractIdentityProbe], workflow_runner=runner
        ):
            seen[name] = await workflow_env.client.execute_workflow(
                ContractIdentityProbe.run, id=f"probe-{uuid.uuid4()}", task_queue=task_queue
            )
    assert seen["default"] != id(LeadSnapshot)
    assert seen["production"] == id(LeadSnapshot)
