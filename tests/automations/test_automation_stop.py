"""An objection stops the contact's running automation runs with its reason (issue 16, point 4), end to end on
the time-skipping server: a CRM change starts a run, its mail is being delivered while SMTP fails, the prospect
objects, the dispatcher's objection handler finds the run by its row and stops it; the run's row and page say
`gestoppt` with the reason, the mail is not sent and the run's next action never happens. Cancelling a run in
Temporal finishes its row the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from activities.messages import SmtpTransport
from automations.triggers import triggers
from db.models import AutomationRule, AutomationRun, Message, Objection, Task
from db.session import SessionFactory
from domain.addresses import email_hash
from settings import Settings
from starter.events.dispatcher import Dispatcher, EventHandler
from starter.events.privacy import stop_after_objection
from starter.services.privacy import CONTACT_OBJECTED, automation_runs_to_stop
from tests import factories
from tests.automation_harness import AutomationHarness, Office, post, running
from workflows.automation import CANCELLED_REASON, AutomationRunWorkflow
from workflows.automation_models import RunResult, StopRun

pytestmark = pytest.mark.timeout(120)
REASON = "Widerspruch des Interessenten gegen alle E-Mails"


class HeldTransport:
    """The first send waits until the test lets go, then fails as an unreachable SMTP server does (the
    delivery retries); later sends go to the test's SMTP sink."""

    def __init__(self, settings: Settings) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0
        self._smtp = SmtpTransport(settings)

    async def send(self, message: Message) -> str:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            await self.release.wait()
            raise ConnectionRefusedError("SMTP server not reachable")
        return await self._smtp.send(message)

    async def held(self) -> None:
        async with asyncio.timeout(20):
            await self.entered.wait()


@pytest.fixture
def held(settings: Settings) -> HeldTransport:
    return HeldTransport(settings)


@pytest.fixture
async def auto(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    held: HeldTransport,
) -> AsyncIterator[AutomationHarness]:
    async with running(workflow_env.client, sessions, settings, task_queue, transport=held) as harness:
        yield harness


def dispatcher(auto: AutomationHarness) -> Dispatcher:
    """The production pairing: every trigger's event starts runs, `contact.objected` stops them."""
    handlers: dict[str, list[EventHandler]] = {kind: [auto.handler] for kind in triggers()}
    handlers[CONTACT_OBJECTED] = [stop_after_objection]
    return Dispatcher(auto.sessions, auto.client, handlers)


async def mail_then_task_rule(sessions: SessionFactory, user_id: int) -> int:
    """On a note about a contact: an advertising mail to the contact, then a task for a user."""
    async with sessions.begin() as session:
        rule = AutomationRule(
            name="Notiz → Angebot und Wiedervorlage",
            trigger="note.created",
            conditions=[],
            actions=[
                {"kind": "send_email", "params": {"template_key": "automation.first_email", "to": "contact"}},
                {"kind": "create_task", "params": {"title": "Nachfassen", "assignee": "user", "user_id": user_id}},
            ],
            enabled=True,
        )
        session.add(rule)
        await session.flush()
        return rule.id


async def test_an_objection_stops_the_contacts_running_automation_with_the_reason(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, held: HeldTransport
) -> None:
    prospect = office.prospect
    await factories.confirmed_advertising_consent(auto.sessions, prospect.email or "")
    rule_id = await mail_then_task_rule(auto.sessions, office.agent.id)
    events = dispatcher(auto)
    await post(api, "/api/notes", {"text": "Interessiert an ähnlichen Objekten", "contact_id": prospect.id})
    await events.run_once()  # note.created: the run starts
    await held.held()  # its mail is being delivered, and SMTP is failing

    [running_run] = await auto.runs(rule_id)
    assert running_run.outcome == "running" and running_run.workflow_id is not None
    await post(api, f"/api/contacts/{prospect.id}/objections", {"scope": "all"})
    assert await events.run_once() == 1  # contact.objected: the handler found the run by its row and stopped it
    handle = auto.client.get_workflow_handle(running_run.workflow_id)
    with pytest.raises(WorkflowUpdateFailedError) as again:  # a redelivered objection is refused, changes nothing
        await handle.execute_update(AutomationRunWorkflow.stop, StopRun(reason="noch einmal"))
    assert "bereits gestoppt" in str(again.value.cause)

    held.release.set()  # the delivery's retry claims the mail after the objection: suppressed
    result = RunResult.model_validate(await handle.result())
    assert (result.outcome, result.error) == ("stopped", REASON)

    [run] = await auto.runs(rule_id)
    assert (run.outcome, run.error) == ("stopped", REASON)
    assert run.finished_at is not None and run.error_detail == "stopped after action 1/2"
    assert [(s["index"], s["status"]) for s in run.steps] == [(0, "done")]  # the task was never created
    async with auto.sessions() as session:
        assert list(await session.scalars(select(Task).where(Task.title == "Nachfassen"))) == []
    [message] = await auto.messages("automation.first_email")
    assert message.status == "suppressed" and held.calls == 1  # never handed to SMTP again

    page = await api.get(f"/automations/runs/{run.id}")
    assert page.status_code == 200
    assert "gestoppt" in page.text and "Gestoppt:" in page.text and REASON in page.text
    runs_page = await api.get(f"/automations/{rule_id}/runs")
    assert REASON in runs_page.text
    await auto.record(run.workflow_id, "automation-stopped-objection")


async def test_cancelling_a_run_in_temporal_finishes_its_row_as_stopped(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, held: HeldTransport
) -> None:
    await factories.confirmed_advertising_consent(auto.sessions, office.prospect.email or "")
    rule_id = await mail_then_task_rule(auto.sessions, office.agent.id)
    await post(api, "/api/notes", {"text": "Bitte melden", "contact_id": office.prospect.id})
    await dispatcher(auto).run_once()
    await held.held()
    [started] = await auto.runs(rule_id)
    handle = auto.client.get_workflow_handle(str(started.workflow_id))

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    held.release.set()
    assert isinstance(failure.value.cause, CancelledError)
    [run] = await auto.runs(rule_id)
    assert (run.outcome, run.error) == ("stopped", CANCELLED_REASON) and run.finished_at is not None


async def _run_row(sessions: SessionFactory, rule_id: int, event_id: int, facts: dict[str, Any], **kw: Any) -> int:
    async with sessions.begin() as session:
        row = AutomationRun(
            rule_id=rule_id,
            event_id=event_id,
            trigger="note.created",
            workflow_id=f"automation-{rule_id}-{event_id}",
            outcome=kw.get("outcome", "running"),
            started_at=datetime.now(UTC),
            facts=facts,
            actions=kw.get("actions", []),
            steps=kw.get("steps", []),
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_which_runs_an_objection_stops(sessions: SessionFactory, office: Office) -> None:
    """By the run rows: the contact (or its address) in the facts; advertising scope only stops runs with an
    advertising mail to the contact still ahead, an objection to everything stops every run of the contact."""
    rule_id = await mail_then_task_rule(sessions, office.agent.id)
    mail = {"kind": "send_email", "params": {"template_key": "automation.birthday", "to": "contact"}}
    task = {"kind": "create_task", "params": {"title": "x", "assignee": "user", "user_id": office.agent.id}}
    done = [{"index": 0, "status": "done", "detail": "gesendet"}]
    me = office.prospect
    advertising = await _run_row(sessions, rule_id, 1, {"contact_id": me.id}, actions=[mail, task])
    internal = await _run_row(sessions, rule_id, 2, {"contact_id": me.id}, actions=[task])
    by_address = await _run_row(sessions, rule_id, 3, {"email": (me.email or "").upper()}, actions=[mail])
    mailed = await _run_row(sessions, rule_id, 4, {"contact_id": me.id}, actions=[mail, task], steps=done)
    await _run_row(sessions, rule_id, 5, {"contact_id": office.partner_contact.id}, actions=[mail])  # someone else
    await _run_row(sessions, rule_id, 6, {"contact_id": me.id}, actions=[mail], outcome="succeeded")
    async with sessions() as session:
        cases = (("advertising", [advertising, by_address]), ("all", [advertising, internal, by_address, mailed]))
        for scope, expected in cases:
            objection = Objection(
                email_hash=email_hash(me.email or ""),
                scope=scope,
                source="office",
                contact_id=me.id,
                at=datetime.now(UTC),
            )
            chosen = [run.id for run in await automation_runs_to_stop(session, objection)]
            assert chosen == sorted(expected), scope
