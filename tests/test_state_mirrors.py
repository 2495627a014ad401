"""Workflows keep their own copies of the database's status enums (they never import the database layer);
a state a workflow records must be one the column knows, under the same name."""

from __future__ import annotations

from enum import StrEnum

import pytest

from db.models import InquiryStatus, SlotRequestStatus
from workflows.inquiry_models import InquiryState
from workflows.slot_models import SlotState


@pytest.mark.parametrize(
    ("workflow_states", "column_states", "only_in_column"),
    [
        (InquiryState, InquiryStatus, {"RECEIVED"}),  # set by the intake, before the workflow runs
        (SlotState, SlotRequestStatus, set()),
    ],
    ids=["inquiry", "slots"],
)
def test_every_workflow_state_is_a_column_state(
    workflow_states: type[StrEnum], column_states: type[StrEnum], only_in_column: set[str]
) -> None:
    column = {state.name: state.value for state in column_states}
    workflow = {state.name: state.value for state in workflow_states}
    assert workflow == {name: value for name, value in column.items() if name not in only_in_column}
