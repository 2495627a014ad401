"""InquiryWorkflow end to end on the time-skipping server: real activities, real database, real SMTP."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from db.models import Activity
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from tests import factories
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import CancelInput, InquiryState

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        yield harness


async def test_property_not_in_active_marketing_is_ignored(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    inquiry = await factories.inquiry(harness.sessions, property_ref="W-1002")
    handle = await harness.start(inquiry)
    result = await handle.result()
    await harness.record(handle, "ignored")
    assert result.state == InquiryState.IGNORED
    row = await harness.row(inquiry.id)
    assert row.status == "ignored" and "nicht in aktiver Vermarktung" in (row.reason or "")
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    ("ref", "mailbox", "reason"),
    [
        ("W-1003", "anfragen@office.example", "nicht sichtbar"),
        ("W-9999", "anfragen@office.example", "nicht bekannt"),
        ("W-1001", "fremd@office.example", "Postfach"),
    ],
)
async def test_property_checks_ignore_invisible_unknown_and_foreign_mailbox(
    harness: InquiryHarness, ref: str, mailbox: str, reason: str
) -> None:
    inquiry = await factories.inquiry(harness.sessions, property_ref=ref, mailbox=mailbox)
    result = await (await harness.start(inquiry)).result()
    assert result.state == InquiryState.IGNORED
    assert reason in ((await harness.row(inquiry.id)).reason or "")


async def test_exception_no_automation_skips_with_rule(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    rule = {"id": "r1", "label": "Eigene Website", "field": "portal", "value": "website", "action": "no_automation"}
    await harness.configure(exceptions=[rule])
    inquiry = await factories.inquiry(harness.sessions, source="website")
    handle = await harness.start(inquiry)
    result = await handle.result()
    await harness.record(handle, "skipped")
    assert result.state == InquiryState.SKIPPED
    assert "Eigene Website" in ((await harness.row(inquiry.id)).reason or "")
    assert smtp_sink.received == []


async def test_exception_address_only_creates_address_without_mail(
    harness: InquiryHarness, smtp_sink: SmtpSink
) -> None:
    rule = {"id": "r2", "label": "Firmenkunden", "field": "email_domain", "value": "firma.de", "action": "address_only"}
    await harness.configure(exceptions=[rule])
    inquiry = await factories.inquiry(harness.sessions, email="chef@firma.de")
    result = await (await harness.start(inquiry)).result()
    assert result.state == InquiryState.COMPLETED and result.contact_id is not None
    assert smtp_sink.received == []
    assert await harness.messages(inquiry.id) == []


async def test_known_prospect_gets_expose_at_once(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    known = await factories.contact(harness.sessions, email="klara@example.com")
    inquiry = await factories.inquiry(harness.sessions, email="klara@example.com")
    handle = await harness.start(inquiry)
    result = await handle.result()
    await harness.record(handle, "known-prospect")
    assert result.state == InquiryState.COMPLETED and result.contact_id == known.id
    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ("klara@example.com",)
    assert mail.subject == "Ihr Exposé: Helle 3-Zimmer-Wohnung am Park"
    assert "Anna Agent" in str(mail.message["From"]) and "anna@office.example" in str(mail.message["From"])
    assert "Wohnfläche: 78 m²" in mail.text and "Preis: 1.250 €" in mail.text
    html = mail.message.get_body(preferencelist=("html",))
    assert html is not None and "/static/demo/w-1001.jpg" in str(html.get_content())


async def test_unknown_prospect_confirms_then_address_and_expose(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    inquiry = await factories.inquiry(harness.sessions, email="nina@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    [confirmation] = await harness.messages(inquiry.id)
    assert confirmation.template_key == "inquiry.confirmation"
    await harness.confirm(handle, harness.nonce_from(confirmation), street="Parkweg 1")
    result = await handle.result()
    await harness.record(handle, "confirmed")
    assert result.state == InquiryState.COMPLETED and result.contact_id is not None
    assert [m.subject.split(":")[0] for m in smtp_sink.received] == [
        "Ihre Anfrage zu Helle 3-Zimmer-Wohnung am Park – bitte kurz bestätigen",
        "Ihr Exposé",
    ]
    assert await harness.timeline(inquiry.id) == ["checked", "confirmation", "address", "completed"]


async def test_confirmation_link_is_single_use_and_bound_to_its_workflow(harness: InquiryHarness) -> None:
    first = await factories.inquiry(harness.sessions, email="a@example.com")
    second = await factories.inquiry(harness.sessions, email="b@example.com")
    h1, h2 = await harness.start(first), await harness.start(second)
    await harness.wait_for_state(h1, InquiryState.WAITING_FOR_CONFIRMATION)
    await harness.wait_for_state(h2, InquiryState.WAITING_FOR_CONFIRMATION)
    nonce1 = harness.nonce_from((await harness.messages(first.id))[0])
    with pytest.raises(WorkflowUpdateFailedError) as foreign:
        await harness.confirm(h2, nonce1)
    assert "gehört nicht" in str(foreign.value.cause)
    await harness.confirm(h1, nonce1)
    with pytest.raises(WorkflowUpdateFailedError):
        await harness.confirm(h1, nonce1)
    assert (await h1.result()).state == InquiryState.COMPLETED
    await h2.execute_update(InquiryWorkflow.cancel, CancelInput(reason="Test beendet"))
    assert (await h2.result()).state == InquiryState.CANCELLED
    await harness.record(h2, "cancelled")


async def test_duplicate_aborts_with_task_and_agent_can_continue(harness: InquiryHarness) -> None:
    twin = await factories.contact(
        harness.sessions, first_name="Nina", last_name="Neu", email="alt@example.com", zip_code="10117"
    )
    inquiry = await factories.inquiry(harness.sessions, email="nina.neu@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    await harness.confirm(handle, harness.nonce_from((await harness.messages(inquiry.id))[0]))
    await harness.wait_for_state(handle, InquiryState.ABORTED)
    row = await harness.row(inquiry.id)
    assert row.duplicate_contact_id == twin.id and "Name und PLZ" in (row.reason or "")
    [task] = await harness.tasks(inquiry.id)
    assert task.title == "Dublette prüfen: Anfrage zu W-1001"
    snapshot = await handle.execute_update(InquiryWorkflow.override_duplicate)
    assert snapshot.state in (InquiryState.PROCESSING, InquiryState.COMPLETED)
    result = await handle.result()
    await harness.record(handle, "duplicate-override")
    assert result.state == InquiryState.COMPLETED and result.contact_id not in (None, twin.id)


async def test_duplicate_without_review_ends_aborted(harness: InquiryHarness) -> None:
    await harness.configure(task_on_duplicate=False, duplicate_check="email", duplicate_review_window="PT1H")
    inquiry = await factories.inquiry(harness.sessions, email="spaeter@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    await factories.contact(harness.sessions, email="spaeter@example.com")  # created meanwhile by an agent
    await harness.confirm(handle, harness.nonce_from((await harness.messages(inquiry.id))[0]))
    result = await handle.result()
    assert result.state == InquiryState.ABORTED
    assert await harness.tasks(inquiry.id) == []


@pytest.mark.parametrize(("notice", "tasks", "notice_mails"), [("task", 1, 0), ("email", 0, 1), ("none", 0, 0)])
async def test_followups_then_expiry_with_final_notice(
    harness: InquiryHarness, smtp_sink: SmtpSink, notice: str, tasks: int, notice_mails: int
) -> None:
    await harness.configure(followup_interval="P2D", followup_attempts=3, final_notice=notice)
    inquiry = await factories.inquiry(harness.sessions, email="still@example.com")
    handle = await harness.start(inquiry)
    result = await handle.result()
    await harness.record(handle, f"expired-notice-{notice}")
    assert result.state == InquiryState.EXPIRED and result.reminders_sent == 3
    messages = await harness.messages(inquiry.id)
    keys = [m.template_key for m in messages]
    assert keys[:4] == ["inquiry.confirmation", "inquiry.followup.1", "inquiry.followup.2", "inquiry.followup.3"]
    assert len({m.subject for m in messages[:4]}) == 4  # the prospect never gets the same mail twice
    assert keys.count("inquiry.manager_notice") == notice_mails
    # Mails are composed by the activity that sends them, reminders by the stop check before their delivery.
    sent = await harness.activity_times(handle, "send_inquiry_mail", "prepare_inquiry_reminder")
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert len(gaps) == 3 + notice_mails
    assert all(timedelta(days=2) <= gap < timedelta(days=2, minutes=1) for gap in gaps), gaps
    assert len(await harness.tasks(inquiry.id)) == tasks
    assert len(smtp_sink.received) == 4 + notice_mails
    reminder = next(m for m in smtp_sink.received if "Erinnerung 1" in m.subject)
    assert "Anna Agent" in str(reminder.message["From"])
    # Seed 000 "without signature": a closing line and the sender's name, no personal signature block.
    # The sign-off ends the letter; the office's legal footer (issue 16) follows after the "-- " line.
    letter, _, footer = reminder.text.partition("\r\n-- \r\n")
    assert letter.rstrip().endswith("Mit freundlichen Grüßen\r\nAnna Agent"), reminder.text
    assert "Impressum" in footer, reminder.text


async def test_old_stop_activity_does_not_stop(harness: InquiryHarness, workflow_env: WorkflowEnvironment) -> None:
    await harness.configure(followup_attempts=1, final_notice="none")
    inquiry = await factories.inquiry(harness.sessions, email="alt-absage@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    long_ago = await workflow_env.get_current_time() - timedelta(days=30)  # outside "the last x days"
    async with harness.sessions.begin() as session:
        session.add(Activity(kind="absage", inquiry_id=inquiry.id, occurred_at=long_ago))
    result = await handle.result()
    assert result.state == InquiryState.EXPIRED and result.reminders_sent == 1


@pytest.mark.parametrize("kind", ["absage", "zusage", "warteliste"])
async def test_stop_activity_ends_followups(
    harness: InquiryHarness, workflow_env: WorkflowEnvironment, kind: str
) -> None:
    inquiry = await factories.inquiry(harness.sessions, email=f"{kind}@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    now = await workflow_env.get_current_time()  # the test server's clock runs ahead of the wall clock
    async with harness.sessions.begin() as session:
        session.add(Activity(kind=kind, inquiry_id=inquiry.id, occurred_at=now))
    result = await handle.result()
    await harness.record(handle, f"stopped-{kind}")
    assert result.state == InquiryState.ABORTED and result.reminders_sent == 0
    assert f"„{kind}“" in ((await harness.row(inquiry.id)).reason or "")
    assert [m.template_key for m in await harness.messages(inquiry.id)] == ["inquiry.confirmation"]


async def test_confirmation_off_creates_address_from_inquiry(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    await harness.configure(confirmation_enabled=False)
    inquiry = await factories.inquiry(harness.sessions, email="direkt@example.com")
    result = await (await harness.start(inquiry)).result()
    assert result.state == InquiryState.COMPLETED and result.contact_id is not None
    assert [m.subject for m in smtp_sink.received] == ["Ihr Exposé: Helle 3-Zimmer-Wohnung am Park"]


async def test_second_inquiry_waits_on_first_confirmation(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    first = await factories.inquiry(harness.sessions, email="doppelt@example.com")
    h1 = await harness.start(first)
    await harness.wait_for_state(h1, InquiryState.WAITING_FOR_CONFIRMATION)
    second = await factories.inquiry(harness.sessions, email="doppelt@example.com")
    h2 = await harness.start(second)
    await harness.wait_for_state(h2, InquiryState.WAITING_FOR_CONFIRMATION)
    assert await harness.messages(second.id) == []  # no second confirmation mail
    await harness.confirm(h1, harness.nonce_from((await harness.messages(first.id))[0]))
    r1, r2 = await h1.result(), await h2.result()
    await harness.record(h2, "follower")
    assert r1.state == r2.state == InquiryState.COMPLETED
    assert r1.contact_id == r2.contact_id is not None
    subjects = sorted(m.subject for m in smtp_sink.received)
    assert subjects.count("Ihr Exposé: Helle 3-Zimmer-Wohnung am Park") == 2
    assert sum("bitte kurz bestätigen" in s for s in subjects) == 1


async def test_resend_confirmation_sends_a_new_link(harness: InquiryHarness) -> None:
    inquiry = await factories.inquiry(harness.sessions, email="resend@example.com")
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    await handle.execute_update(InquiryWorkflow.resend_confirmation)
    first, resent = await harness.messages(inquiry.id)
    assert resent.idempotency_key.endswith("confirmation:resend:1")
    assert harness.nonce_from(first) != harness.nonce_from(resent)
    await harness.confirm(handle, harness.nonce_from(resent))
    assert (await handle.result()).state == InquiryState.COMPLETED
    await harness.record(handle, "resent")


async def test_broken_template_fails_the_inquiry_visibly(harness: InquiryHarness) -> None:
    from sqlalchemy import update

    from db.models import MessageTemplate

    async with harness.sessions.begin() as session:
        await session.execute(
            update(MessageTemplate).where(MessageTemplate.key == "inquiry.confirmation").values(body="{{ nope.nada }}")
        )
    inquiry = await factories.inquiry(harness.sessions, email="kaputt@example.com")
    handle = await harness.start(inquiry)
    result: Any = await handle.result()
    await harness.record(handle, "failed-template")
    assert result.state == InquiryState.FAILED
    assert "inquiry.confirmation" in ((await harness.row(inquiry.id)).reason or "")
