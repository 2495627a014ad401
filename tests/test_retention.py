"""The daily retention scan: notice tasks before a contact's "speichern bis" date, erasure after it, and
deleting the personal data of unconfirmed inquiries a configured time after they expired."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import Contact, Inquiry, InquiryStatus, PrivacyAudit, RawPayload, Task
from db.session import SessionFactory
from settings import Settings
from starter.temporal.histories import HISTORIES_DIR, portable_json
from starter.temporal.retention_schedule import RETENTION_SCHEDULE_ID, retention_schedule
from tests import factories
from worker import WORKFLOWS, build_activities
from workflows.retention_scan import RetentionScanWorkflow


async def test_the_scan_notices_erases_and_purges(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> None:
    office = await factories.office(sessions)
    # The day as the workflow will see it: from the test server's clock, not the machine's.
    today = (await workflow_env.get_current_time()).astimezone(ZoneInfo(settings.time_zone)).date()
    soon = await factories.contact(
        sessions,
        email="soon@example.com",
        last_name="Baldweg",
        retain_until=today + timedelta(days=5),
        retention_reason="interest",
        owner_user_id=office["agent"].id,
    )
    past = await factories.contact(
        sessions,
        email="past@example.com",
        last_name="Vergangen",
        phone="+49 30 999",
        retain_until=today - timedelta(days=3),
        retention_reason="interest",
    )
    later = await factories.contact(sessions, email="later@example.com", retain_until=today + timedelta(days=200))
    stale = await factories.inquiry(sessions, email="stale@example.com", last_name="Unbestaetigt")
    fresh = await factories.inquiry(sessions, email="fresh@example.com")
    now = await workflow_env.get_current_time()
    async with sessions.begin() as session:
        raw = RawPayload(channel="api-json", body='{"email": "stale@example.com"}')
        session.add(raw)
        await session.flush()
        await session.execute(
            update(Inquiry)
            .where(Inquiry.id == stale.id)
            .values(status=InquiryStatus.EXPIRED, updated_at=now - timedelta(days=40), raw_payload_id=raw.id)
        )
        await session.execute(
            update(Inquiry)
            .where(Inquiry.id == fresh.id)
            .values(status=InquiryStatus.EXPIRED, updated_at=now - timedelta(days=3))
        )

    # No timers here: without skipping, the test server's clock stays on the day the contacts were made for.
    with workflow_env.auto_time_skipping_disabled():
        async with Worker(
            workflow_env.client,
            task_queue=task_queue,
            workflows=list(WORKFLOWS),
            activities=build_activities(settings, sessions),
        ):
            handles = []
            for _ in range(2):  # a second run the same day adds nothing
                handles.append(
                    await workflow_env.client.start_workflow(
                        RetentionScanWorkflow.run, id=f"retention-{uuid.uuid4()}", task_queue=task_queue
                    )
                )
                result = await handles[-1].result()
            if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
                (HISTORIES_DIR / "retention-scan.json").write_text(portable_json(await handles[0].fetch_history()))
        assert result.erased_contacts == [] and result.notices == 0  # the second run

    async with sessions() as session:
        tasks = list(await session.scalars(select(Task).where(Task.contact_id == soon.id)))
        assert len(tasks) == 1 and tasks[0].assignee_user_id == office["agent"].id
        assert "Speicherfrist" in tasks[0].title
        erased = await session.get(Contact, past.id)
        assert erased is not None and erased.erased_at is not None and erased.email is None and erased.phone is None
        assert erased.last_name != "Vergangen"
        kept = await session.get(Contact, later.id)
        assert kept is not None and kept.email == "later@example.com" and kept.erased_at is None
        purged = await session.get(Inquiry, stale.id)
        assert purged is not None and purged.prospect == {} and "stale@example.com" not in purged.email
        assert (await session.get(RawPayload, raw.id)).body == "{}"  # type: ignore[union-attr]
        untouched = await session.get(Inquiry, fresh.id)
        assert untouched is not None and untouched.email == "fresh@example.com"
        actions = list(await session.scalars(select(PrivacyAudit.action).order_by(PrivacyAudit.id)))
        assert sorted(actions) == ["erase", "erase", "retention_notice"]


def test_the_schedule_runs_daily_in_the_office_time_zone() -> None:
    settings = Settings(task_queue="q")
    schedule = retention_schedule(settings)
    assert schedule.spec.time_zone_name == settings.time_zone
    [calendar] = schedule.spec.calendars
    assert (calendar.hour[0].start, calendar.minute[0].start) == (3, 0)
    assert isinstance(schedule.action, ScheduleActionStartWorkflow) and schedule.action.id == RETENTION_SCHEDULE_ID
