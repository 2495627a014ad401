"""Every recorded history in tests/histories replays against the current workflow code.

A change that breaks determinism fails here, in CI, before it can break running workflows. Record new
histories with IMMOFLOW_RECORD_HISTORIES=1 (see README, "Changing a workflow"). They replay with the
production data converter, payload codec included, so an encrypted history exported from a cluster fits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.worker import Replayer

from starter.temporal.histories import load_history, recorded_histories
from tests.replay_converter import production_converter
from worker import WORKFLOWS

HISTORIES = recorded_histories()


def workflow_type(path: Path) -> str:
    started = load_history(path).events[0].workflow_execution_started_event_attributes
    return str(started.workflow_type.name)


def test_every_workflow_type_has_recorded_histories() -> None:
    registered = {str(workflow._Definition.must_from_class(cls).name) for cls in WORKFLOWS}
    missing = registered - {workflow_type(path) for path in HISTORIES}
    assert not missing, f"no recorded history for {sorted(missing)}; record with IMMOFLOW_RECORD_HISTORIES=1"


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_history_replays(path: Path) -> None:
    # Production's converter (with the payload codec): a history exported from an office replays as it is.
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=production_converter())
    result = await replayer.replay_workflow(load_history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
