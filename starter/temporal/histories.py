"""Recorded workflow histories: export one from a cluster, and load the ones kept in tests/histories.

A recorded history replayed against the current code proves a change is deterministic; a change that
is meant to alter running workflows goes behind `workflow.patched("<change-id>")`, and the old history
keeps replaying (see README, "Changing a workflow").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


LOCAL_ACTIVITY_MARKER = "core_local_activity"  # the marker the SDK records for each local activity's result


@dataclass(frozen=True)
class HistoryCost:
    """What one workflow run cost the cluster: its activities (scheduled by the server, and local ones the
    worker ran inside a workflow task) and its history events."""

    activities: int
    local_activities: int
    events: int

    @property
    def all_activities(self) -> int:
        return self.activities + self.local_activities


def history_cost(history: WorkflowHistory) -> HistoryCost:
    activities = local = 0
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            activities += 1
        elif (
            event.HasField("marker_recorded_event_attributes")
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            local += 1
    return HistoryCost(activities=activities, local_activities=local, events=len(history.events))
