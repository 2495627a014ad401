"""The domain event catalogue: every kind a handler or a trigger listens to is one a writer can write."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from automations.triggers import triggers
from db.events import CATALOGUE, AppointmentCreated, Birthday, TaskCreated, parse_event, record_event
from db.models import DomainEvent
from starter.events.routing import routing_table
from workflows.automation_models import BIRTHDAY_TRIGGER


class _Session:
    """Collects what record_event adds (it only adds; the caller's transaction commits)."""

    def __init__(self) -> None:
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)


def test_every_routed_kind_is_in_the_catalogue() -> None:
    routed = set(routing_table())
    assert routed, "the dispatcher routes nothing"
    assert routed - set(CATALOGUE) == set()


def test_every_automation_trigger_listens_to_a_catalogued_kind() -> None:
    assert set(triggers()) - set(CATALOGUE) == set()
    assert Birthday.KIND == BIRTHDAY_TRIGGER


def test_stored_payload_keeps_python_iso_instants_and_leaves_unnamed_options_out() -> None:
    created = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    session = _Session()
    row = record_event(
        session,  # type: ignore[arg-type]
        TaskCreated(task_id=7, lead_id=3, assignee_user_id=2, due_at=None, created_at=created),
        depth=1,
    )
    assert isinstance(row, DomainEvent) and session.added == [row]
    assert row.kind == "task.created" and row.depth == 1
    assert row.payload == {
        "task_id": 7,
        "lead_id": 3,
        "assignee_user_id": 2,
        "due_at": None,
        "created_at": "2026-12-02T06:30:00+00:00",
    }


@pytest.mark.parametrize(
    "event",
    [
        AppointmentCreated(
            appointment_id=1,
            lead_id=None,
            contact_id=4,
            property_id=None,
            user_id=2,
            kind="viewing",
            starts_at=datetime(2026, 12, 3, 9, tzinfo=UTC),
            ends_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
            created_at=datetime(2026, 12, 2, 9, tzinfo=UTC),
            slot_request_id=5,
        ),
        Birthday(contact_id=4, year=2026, day=date(2026, 12, 2)),
    ],
)
def test_a_stored_event_parses_back_to_its_model(event: AppointmentCreated | Birthday) -> None:
    row = record_event(_Session(), event)  # type: ignore[arg-type]
    assert parse_event(row) == event
