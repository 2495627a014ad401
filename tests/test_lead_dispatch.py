"""From the API through the domain-event outbox and the dispatcher to the lead's workflow, with the real
activities against SQLite and PostgreSQL and mail through a real SMTP peer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.leads import LeadActivities
from activities.messages import MessageActivities, SmtpTransport
from db.models import DomainEvent, Lead, Message, MessageTemplate
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.events.dispatcher import Dispatcher, mark_undispatched
from starter.events.leads import LeadEventHandlers
from starter.services import leads as lead_service
from starter.services.lead_inputs import NewLead, SalesProcessInput, TaskInput
from tests.lead_harness import (
    DAY,
    FRIDAY,
    PROCESS,
    RECORD,
    WEEK,
    Office,
    api_client,
    at_day,
    export_history,
    leads_app,
    next_weekday,
    seed_office,
    skip_to,
    wait_status,
)
from web.dependencies import request_time
from workflows.lead import LeadWorkflow
from workflows.lead_models import LeadResult, ReminderRequest

SEVEN = time(7, 0)
LeadHandle = WorkflowHandle[LeadWorkflow, LeadResult]


@pytest.fixture
async def api(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory, workflow_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    app = leads_app(settings, engine, sessions)

    async def server_clock() -> datetime:
        # The API stamps changes with the workflow server's (skipped) clock, like production's one clock.
        return await workflow_env.get_current_time()

    app.dependency_overrides[request_time] = server_clock
    async with api_client(app) as client:
        yield client


@pytest.fixture
def workflow_ids() -> Callable[[int], str]:
    """Lead ids restart with every test's fresh tables while workflow ids live on in the shared server
    (a closed lead's id stays taken): each test gets its own `lead-<test>-<id>`."""
    test = uuid.uuid4().hex[:8]
    return lambda lead_id: f"lead-{test}-{lead_id}"


@pytest.fixture
def handlers(task_queue: str, workflow_ids: Callable[[int], str]) -> dict[str, list[Any]]:
    routes = LeadEventHandlers(task_queue, workflow_id=workflow_ids).routes()
    return {kind: [handler] for kind, handler in routes.items()}


@pytest.fixture
def lead_handle(workflow_env: WorkflowEnvironment, workflow_ids: Callable[[int], str]) -> Callable[[int], LeadHandle]:
    return lambda lead_id: workflow_env.client.get_workflow_handle_for(LeadWorkflow.run, workflow_ids(lead_id))


@pytest.fixture
def dispatcher(
    sessions: SessionFactory, workflow_env: WorkflowEnvironment, handlers: dict[str, list[Any]]
) -> Dispatcher:
    return Dispatcher(sessions, workflow_env.client, handlers)


@pytest.fixture
async def worker(
    workflow_env: WorkflowEnvironment, task_queue: str, sessions: SessionFactory, settings: Settings
) -> AsyncIterator[Worker]:
    messages = MessageActivities(sessions, {"email": SmtpTransport(settings)})
    activities = [*LeadActivities(sessions, settings, messages.delivery).all(), messages.deliver_message]
    async with Worker(workflow_env.client, task_queue=task_queue, workflows=[LeadWorkflow], activities=activities) as w:
        yield w


@pytest.fixture
async def office(sessions: SessionFactory) -> Office:
    return await seed_office(sessions)


@pytest.fixture(autouse=True)
async def end_lead_workflows(sessions: SessionFactory, lead_handle: Callable[[int], LeadHandle]) -> AsyncIterator[None]:
    """Terminate what a test left running: the shared server need not keep firing its timers."""
    yield
    async with sessions() as session:
        lead_ids = list(await session.scalars(select(Lead.id)))
    for lead_id in lead_ids:
        with contextlib.suppress(RPCError):
            await lead_handle(lead_id).terminate("test finished")


class CrashBeforeCommit:
    """Sessions whose commit fails: the dispatcher delivered its events and died before marking them done."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def __call__(self) -> AsyncSession:
        session = self._sessions()

        async def crash() -> None:
            raise RuntimeError("dispatcher died before marking its events done")

        session.commit = crash  # type: ignore[method-assign]
        return session


async def create(api: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=payload)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def new_lead(api: httpx.AsyncClient, office: Office, process: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "title": "Familie Kauf sucht Haus",
        "contact_id": office.contact_id,
        "process_id": process["id"],
        "taker_user_id": office.taker_id,
    }
    return await create(api, "/api/leads", payload)


async def undispatched(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        query = select(DomainEvent.kind).where(DomainEvent.dispatched_at.is_(None)).order_by(DomainEvent.id)
        return list(await session.scalars(query))


async def messages(sessions: SessionFactory, lead_id: int) -> list[Message]:
    async with sessions() as session:
        return list(await session.scalars(select(Message).where(Message.lead_id == lead_id).order_by(Message.id)))


async def compose_instants(handle: LeadHandle) -> list[datetime]:
    """When the workflow scheduled each reminder (server clock), read from its history."""
    history = await handle.fetch_history()
    return [
        event.event_time.ToDatetime().replace(tzinfo=UTC)
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        # send_lead_reminder composes and sends in one activity (compose_lead_reminder before it)
        and event.activity_task_scheduled_event_attributes.activity_type.name == "send_lead_reminder"
    ]


# --- delivery ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_event_written_with_the_change_and_delivered_once(
    api: httpx.AsyncClient,
    office: Office,
    sessions: SessionFactory,
    dispatcher: Dispatcher,
    workflow_env: WorkflowEnvironment,
    lead_handle: Callable[[int], LeadHandle],
) -> None:
    process = await create(api, "/api/sales-processes", PROCESS)
    lead = await new_lead(api, office, process)
    assert await undispatched(sessions) == ["sales_process.changed", "lead.created"]

    assert await dispatcher.run_once() == 2
    assert await undispatched(sessions) == []
    assert await dispatcher.run_once() == 0
    handle = lead_handle(lead["id"])
    status = await wait_status(handle, lambda s: s.phase_id is not None)
    assert status.phase_id == process["phases"][0]["id"]
    assert status.overdue_at == datetime.fromisoformat(lead["phase_entered_at"]) + timedelta(days=3)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert await description.static_summary() == f"Lead #{lead['id']}: overdue reminders"


@pytest.mark.usefixtures("worker")
async def test_redelivered_after_a_crash_has_no_double_effect(
    api: httpx.AsyncClient,
    office: Office,
    sessions: SessionFactory,
    dispatcher: Dispatcher,
    workflow_env: WorkflowEnvironment,
    lead_handle: Callable[[int], LeadHandle],
    handlers: dict[str, list[Any]],
) -> None:
    crashing = Dispatcher(cast(SessionFactory, CrashBeforeCommit(sessions)), workflow_env.client, handlers)
    process = await create(api, "/api/sales-processes", PROCESS)
    lead = await new_lead(api, office, process)
    with pytest.raises(RuntimeError, match="died"):
        await crashing.run_once()  # started the workflow, then died
    handle = lead_handle(lead["id"])
    first_run = (await handle.describe()).run_id
    second = process["phases"][1]["id"]
    await create(api, f"/api/leads/{lead['id']}/phase", {"phase_id": second})
    with pytest.raises(RuntimeError, match="died"):
        await crashing.run_once()  # signalled the phase change (and started nothing new), then died
    assert await undispatched(sessions) == ["sales_process.changed", "lead.created", "lead.phase_changed"]

    assert await dispatcher.run_once() == 3  # everything once more
    assert await undispatched(sessions) == []
    status = await wait_status(handle, lambda s: s.phase_id == second)
    assert status.events_applied == 1  # the phase change counted once
    assert (await handle.describe()).run_id == first_run  # and no second workflow


@pytest.mark.usefixtures("worker")
async def test_process_change_applies_to_running_leads(
    api: httpx.AsyncClient,
    office: Office,
    dispatcher: Dispatcher,
    workflow_env: WorkflowEnvironment,
    lead_handle: Callable[[int], LeadHandle],
) -> None:
    process = await create(api, "/api/sales-processes", PROCESS)
    lead = await new_lead(api, office, process)
    await dispatcher.run_once()
    handle = lead_handle(lead["id"])
    entered = datetime.fromisoformat(lead["phase_entered_at"])
    await wait_status(handle, lambda s: s.overdue_at == entered + timedelta(days=3))
    phases = [{"id": p["id"], "name": p["name"], "duration": {"value": 1, "unit": "days"}} for p in process["phases"]]
    response = await api.put(f"/api/sales-processes/{process['id']}", json={**PROCESS, "phases": phases})
    assert response.status_code == 200
    assert await dispatcher.run_once() == 1
    status = await wait_status(handle, lambda s: s.overdue_at == entered + DAY)
    assert status.events_applied == 1


@pytest.mark.usefixtures("worker")
async def test_closed_lead_ends_its_workflow_and_late_events_do_not_revive_it(
    api: httpx.AsyncClient,
    office: Office,
    sessions: SessionFactory,
    dispatcher: Dispatcher,
    workflow_env: WorkflowEnvironment,
    lead_handle: Callable[[int], LeadHandle],
) -> None:
    process = await create(api, "/api/sales-processes", PROCESS)
    lead = await new_lead(api, office, process)
    await dispatcher.run_once()
    await create(api, f"/api/leads/{lead['id']}/close", {})
    assert await dispatcher.run_once() == 1
    handle = lead_handle(lead["id"])
    await wait_status(handle, lambda s: s.closed)
    result = await handle.result()
    assert result == LeadResult(lead_id=lead["id"], outcome="closed", episodes=0, reminders_sent=0)
    run_id = (await handle.describe()).run_id

    async with sessions() as session:
        for event_id in await session.scalars(select(DomainEvent.id)):
            await mark_undispatched(sessions, event_id)
    assert await dispatcher.run_once() == 3
    description = await handle.describe()
    assert description.run_id == run_id
    assert description.status == WorkflowExecutionStatus.COMPLETED


# --- the whole way: reminder mails at the seed's instants ----------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_reminder_mails_end_to_end(
    api: httpx.AsyncClient,
    office: Office,
    sessions: SessionFactory,
    dispatcher: Dispatcher,
    workflow_env: WorkflowEnvironment,
    lead_handle: Callable[[int], LeadHandle],
    smtp_sink: SmtpSink,
    engine: AsyncEngine,
) -> None:
    env = workflow_env
    friday = next_weekday(await env.get_current_time(), FRIDAY, time(10, 0))
    await skip_to(env, friday)
    process = await create(api, "/api/sales-processes", PROCESS)
    lead = await new_lead(api, office, process)  # phase 1 (3 days) entered Friday 10:00: overdue Monday
    lead_id = lead["id"]
    await dispatcher.run_once()
    handle = lead_handle(lead_id)
    tuesday = at_day(friday, 4, SEVEN)

    await skip_to(env, tuesday + timedelta(hours=2))
    [first] = await messages(sessions, lead_id)
    assert first.idempotency_key == f"lead:{lead_id}:episode:1:reminder:1"
    assert first.status == "sent" and first.template_key == "lead.reminder"
    assert first.recipient == "Lena Leadnehmer <lena.leadnehmer@office.example>"
    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ("lena.leadnehmer@office.example",)
    assert mail.subject == "Überfälliger Lead: Familie Kauf sucht Haus (Erstkontakt)"
    monday = at_day(friday, 3, time(0, 0))
    assert f"in der Phase „Erstkontakt“ (Vertriebsprozess „Verkauf“) seit Mo., {monday:%d.%m.%Y}" in mail.text
    assert f"Zum Lead: http://testserver/leads/{lead_id}" in mail.text

    # A task without due date on Tuesday ~09:00 ends the episode; the clock restarts then: overdue again
    # Friday ~09:00, reminder Saturday 07:00 (episode 2), and no second reminder of episode 1.
    task = await create(api, f"/api/leads/{lead_id}/tasks", {"title": "Rückruf"})
    assert await dispatcher.run_once() == 1
    await wait_status(handle, lambda s: not s.overdue)
    await skip_to(env, tuesday + WEEK + timedelta(hours=2))
    keys = [m.idempotency_key for m in await messages(sessions, lead_id)]
    assert keys == [f"lead:{lead_id}:episode:1:reminder:1", f"lead:{lead_id}:episode:2:reminder:1"]
    assert len(smtp_sink.received) == 2
    saturday = at_day(datetime.fromisoformat(task["created_at"]) + timedelta(days=3), 1, SEVEN)
    for instant, due in zip(await compose_instants(handle), [tuesday, saturday], strict=True):
        assert due <= instant < due + timedelta(seconds=1)

    await create(api, f"/api/leads/{lead_id}/close", {})
    await dispatcher.run_once()
    await wait_status(handle, lambda s: s.closed)
    assert await handle.result() == LeadResult(lead_id=lead_id, outcome="closed", episodes=2, reminders_sent=2)
    if RECORD and engine.dialect.name == "sqlite":
        await export_history(handle, "api-end-to-end")


# --- the activities against the database ---------------------------------------------------------------


async def test_snapshot_and_compose_read_the_database(
    sessions: SessionFactory, settings: Settings, office: Office
) -> None:
    env = ActivityEnvironment()
    activities = LeadActivities(sessions, settings, MessageActivities(sessions, {}).delivery)
    now = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)  # a Monday
    async with sessions.begin() as session:
        process = await lead_service.create_process(session, SalesProcessInput.model_validate(PROCESS))
        new = NewLead(
            title="Familie Kauf", contact_id=office.contact_id, process_id=process.id, taker_user_id=office.taker_id
        )
        lead = await lead_service.create_lead(session, new, now - timedelta(days=3))
    first, second = (phase.id for phase in process.phases)

    snapshot = await env.run(activities.load_lead_snapshot, lead.id)
    assert (snapshot.status, snapshot.phase_id, snapshot.hold_until) == ("open", first, None)
    assert snapshot.config is not None and snapshot.config.reminder_interval == WEEK
    assert [p.duration for p in snapshot.config.phases] == [timedelta(days=3), timedelta(days=2)]

    def request(number: int) -> ReminderRequest:
        entered = now - timedelta(days=3)
        return ReminderRequest(
            lead_id=lead.id,
            episode=1,
            number=number,
            idempotency_key=f"lead:{lead.id}:episode:1:reminder:{number}",
            phase_id=first,
            phase_entered_at=entered,
            clock_start=entered,
            overdue_since=now,
            due_at=at_day(now, 1, SEVEN),
        )

    composed = await env.run(activities.compose_lead_reminder, request(1))
    again = await env.run(activities.compose_lead_reminder, request(1))
    assert composed.message_id is not None and again.message_id == composed.message_id
    [message] = await messages(sessions, lead.id)
    assert message.subject == "Überfälliger Lead: Familie Kauf (Erstkontakt)"
    assert "seit Mo., 03.03.2031, 11:00 Uhr überfällig" in message.body_text  # Europe/Berlin, winter time
    assert f"http://testserver/leads/{lead.id}" in message.body_text

    async with sessions.begin() as session:  # an office whose database predates the template
        await session.execute(delete(MessageTemplate).where(MessageTemplate.key == "lead.reminder"))
    assert (await env.run(activities.compose_lead_reminder, request(2))).message_id is not None

    async with sessions.begin() as session:
        await lead_service.add_task(session, lead.id, TaskInput(title="Rückruf"), now + timedelta(hours=1))
    assert (await env.run(activities.compose_lead_reminder, request(3))).skipped == "lead got an appointment or a task"
    snapshot = await env.run(activities.load_lead_snapshot, lead.id)
    assert snapshot.hold_until == now + timedelta(hours=1)
    async with sessions.begin() as session:
        await lead_service.change_phase(session, lead.id, second, now + timedelta(hours=2))
    assert (await env.run(activities.compose_lead_reminder, request(4))).skipped == "lead changed phase"
    async with sessions.begin() as session:
        await lead_service.close_lead(session, lead.id, now + timedelta(hours=3))
    assert (await env.run(activities.compose_lead_reminder, request(5))).skipped == "lead closed or deleted"
    assert (await env.run(activities.load_lead_snapshot, lead.id)).status == "closed"
    assert (await env.run(activities.load_lead_snapshot, 999_999)).status == "missing"
    assert len(await messages(sessions, lead.id)) == 2


async def test_reminder_heartbeats_while_it_composes(
    sessions: SessionFactory, settings: Settings, office: Office, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat timeout runs from the attempt's start: a compose slowed by a busy database must not
    leave the attempt silent, or Temporal times it out, retries it and cancels the first one mid-send."""
    now = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        process = await lead_service.create_process(session, SalesProcessInput.model_validate(PROCESS))
        new = NewLead(
            title="Familie Kauf", contact_id=office.contact_id, process_id=process.id, taker_user_id=office.taker_id
        )
        lead = await lead_service.create_lead(session, new, now - timedelta(days=3))
    lease = timedelta(seconds=0.4)
    delivery = MessageActivities(sessions, {"email": SmtpTransport(settings)}, lease=lease).delivery
    activities = LeadActivities(sessions, settings, delivery)
    compose = activities.compose_lead_reminder

    async def slow_compose(request: ReminderRequest) -> Any:
        await asyncio.sleep(3 * lease.total_seconds())
        return await compose(request)

    monkeypatch.setattr(activities, "compose_lead_reminder", slow_compose)
    env = ActivityEnvironment()
    heartbeats: list[object] = []
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    entered = now - timedelta(days=3)
    request = ReminderRequest(
        lead_id=lead.id,
        episode=1,
        number=1,
        idempotency_key=f"lead:{lead.id}:episode:1:reminder:1",
        phase_id=process.phases[0].id,
        phase_entered_at=entered,
        clock_start=entered,
        overdue_since=now,
        due_at=at_day(now, 1, SEVEN),
    )

    composed = await env.run(activities.send_lead_reminder, request)

    assert composed.message_id is not None
    assert len(heartbeats) >= 3, heartbeats  # four per lease, from the start
    assert [mail.subject for mail in smtp_sink.received] == ["Überfälliger Lead: Familie Kauf (Erstkontakt)"]
