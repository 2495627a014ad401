"""An inquiry without a mailbox, or with one the office does not have, is refused with 422 naming `mailbox`
(stored and quarantined first), or filed under IMMOFLOW_DEFAULT_INTAKE_MAILBOX; never accepted and dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from db.models import Inquiry
from db.session import SessionFactory
from settings import Settings
from tests.test_intake_api import DATA, Api, assert_refused, inquiry_json, running_app


@pytest.fixture
async def api(
    settings: Settings, sessions: SessionFactory, workflow_env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[Api]:
    async with running_app(settings.model_copy(update={"task_queue": task_queue}), sessions, workflow_env) as value:
        yield value


@pytest.mark.parametrize(
    ("mailbox", "needle"),
    [(None, "mailbox is missing"), ("fremd@office.example", "'fremd@office.example' is not a mailbox")],
    ids=["missing", "unknown"],
)
async def test_json_without_known_mailbox_is_refused(api: Api, mailbox: str | None, needle: str) -> None:
    payload = inquiry_json()
    payload.pop("mailbox")
    if mailbox is not None:
        payload["mailbox"] = mailbox
    response = await api.submit(payload)
    quarantine_id = assert_refused(response, 422, needle)
    _, raw = await api.quarantined(quarantine_id)
    assert payload["external_id"] in raw.body
    assert await api.count(Inquiry) == 0


@pytest.mark.parametrize("params", [{}, {"mailbox": "fremd@office.example"}], ids=["missing", "unknown"])
async def test_openimmo_without_known_mailbox_is_refused(api: Api, params: dict[str, str]) -> None:
    response = await api.http.post(
        "/api/inquiries/openimmo",
        content=(DATA / "feedback_immoscout24.xml").read_bytes(),
        params=params,
        headers={"Content-Type": "application/xml"},
    )
    assert_refused(response, 422, "mailbox")
    assert await api.count(Inquiry) == 0


async def test_default_intake_mailbox_files_the_inquiry(
    settings: Settings, sessions: SessionFactory, workflow_env: WorkflowEnvironment, task_queue: str
) -> None:
    configured = settings.model_copy(
        update={"task_queue": task_queue, "default_intake_mailbox": "Anfragen@immoflow.local"}
    )
    async with running_app(configured, sessions, workflow_env) as api:
        payload = inquiry_json()
        payload.pop("mailbox")
        response = await api.submit(payload)
        assert response.status_code == 201, response.text
        async with sessions() as session:
            row = await session.get(Inquiry, response.json()["id"])
        assert row is not None and row.mailbox_address == "anfragen@immoflow.local"
