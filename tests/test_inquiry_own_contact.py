"""The inquiry's own contact: one an automation made from it is not a duplicate, and "not a duplicate –
continue" never creates a second contact with an e-mail address that exists. A duplicate still open for
review reads "Dublette – wartet auf Prüfung" on the dashboard, not "Abgebrochen"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.crm import created_for_inquiry_source
from db.models import Contact
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import InquiryHarness, running_harness
from web.pages.dashboard import status_label
from workflows.inquiry import DUPLICATE_REVIEW_STEP, InquiryWorkflow
from workflows.inquiry_models import InquiryState

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        yield harness


async def contacts_with(sessions: SessionFactory, email: str) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).where(Contact.email == email)) or 0)


async def test_contact_an_automation_made_from_the_inquiry_is_its_own(harness: InquiryHarness) -> None:
    await harness.configure(duplicate_check="email")
    inquiry = await factories.inquiry(harness.sessions, email="auto@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    # What the shipped rule "Bei neuen Anfragen den Interessenten automatisch als Kontakt anlegen" leaves.
    own = await factories.contact(
        harness.sessions,
        email="auto@example.com",
        last_name="Neu",
        source=created_for_inquiry_source("automation:1:7", inquiry.id),
    )
    await harness.confirm(handle, harness.nonce_from((await harness.messages(inquiry.id))[0]), street="Weg 2")
    result = await handle.result()
    assert result.state == InquiryState.COMPLETED and result.contact_id == own.id
    assert [m.template_key for m in await harness.messages(inquiry.id)] == ["inquiry.confirmation", "inquiry.expose"]
    assert await harness.tasks(inquiry.id) == []
    assert await contacts_with(harness.sessions, "auto@example.com") == 1
    async with harness.sessions() as session:
        stored = await session.get(Contact, own.id)
        assert stored is not None and stored.street == "Weg 2"  # what the prospect confirmed fills it in


async def test_not_a_duplicate_never_makes_a_second_contact_with_the_same_email(harness: InquiryHarness) -> None:
    await harness.configure(duplicate_check="email")
    inquiry = await factories.inquiry(harness.sessions, email="zwilling@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    twin = await factories.contact(harness.sessions, email="zwilling@example.com")  # an agent, meanwhile
    await harness.confirm(handle, harness.nonce_from((await harness.messages(inquiry.id))[0]))
    await harness.wait_for_state(handle, InquiryState.ABORTED)
    row = await harness.row(inquiry.id)
    assert row.next_step == DUPLICATE_REVIEW_STEP and row.next_step_at is not None
    await handle.execute_update(InquiryWorkflow.override_duplicate)
    result = await handle.result()
    assert result.state == InquiryState.COMPLETED and result.contact_id == twin.id
    assert await contacts_with(harness.sessions, "zwilling@example.com") == 1


def test_status_label_of_a_duplicate_waiting_for_review() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    later, earlier = now + timedelta(days=3), now - timedelta(minutes=1)
    assert status_label("aborted", DUPLICATE_REVIEW_STEP, later, now) == "Dublette – wartet auf Prüfung"
    assert status_label("aborted", DUPLICATE_REVIEW_STEP, earlier, now) == "Abgebrochen"
    assert status_label("aborted", None, None, now) == "Abgebrochen"
    assert status_label("completed", None, None, now) == "Abgeschlossen"


async def test_dashboard_says_the_duplicate_waits_for_review(settings: Settings, sessions: SessionFactory) -> None:
    await factories.office(sessions)
    inquiry = await factories.inquiry(sessions, email="pruefen@example.com")
    async with sessions.begin() as session:
        row = await session.merge(inquiry)
        row.status, row.next_step = "aborted", DUPLICATE_REVIEW_STEP
        row.next_step_at = datetime.now(UTC) + timedelta(days=14)  # as the workflow records it, from its clock
    async with app_client(settings) as http:
        listing = await http.get("/dashboard")
        detail = await http.get(f"/dashboard/inquiries/{inquiry.id}")
    assert "Dublette – wartet auf Prüfung" in listing.text
    assert "Dublette – wartet auf Prüfung" in detail.text
