"""Recorded workflow histories: export one from a cluster, and load the ones kept in tests/histories.

A recorded history replayed against the current code proves a change is deterministic; a change that
is meant to alter running workflows goes behind `workflow.patched("<change-id>")`, and the old history
keeps replaying (see README, "Changing a workflow").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory

HISTORIES_DIR = Path(__file__).resolve().parents[2] / "tests" / "histories"


def _without_stack_traces(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "" if k == "stackTrace" else _without_stack_traces(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_stack_traces(item) for item in value]
    return value


def portable_json(history: WorkflowHistory) -> str:
    """The history as JSON without stack traces: they name the recording machine's paths, and replay
    never reads them, so a history kept in the repository carries none."""
    return json.dumps(_without_stack_traces(json.loads(history.to_json())), indent=2) + "\n"


async def export_history(client: Client, workflow_id: str, run_id: str | None = None) -> str:
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    return portable_json(history)


def load_history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))


def recorded_histories(directory: Path = HISTORIES_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))
