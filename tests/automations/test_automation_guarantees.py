"""A redelivered event runs a rule once; a failing action is a failed run whose error the admin page shows."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from db.models import AutomationRule, Contact, ContactStatus, DomainEvent, Message, MessageTemplate
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.events.dispatcher import mark_undispatched
from tests.automation_harness import AutomationHarness, Office, post
from workflows.automation import AutomationRunWorkflow
from workflows.automation_models import AutomationRunInput

CANCELLATION = {"kind": "absage", "reason": "Kein Kontakt mehr gewünscht"}


async def test_a_redelivered_event_runs_the_rule_once(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, workflow_env: WorkflowEnvironment
) -> None:
    rule_id = await auto.enable("cancellation_archives_contact")
    await post(api, "/api/activities", {**CANCELLATION, "contact_id": office.prospect.id})
    await auto.settle()
    [event] = await auto.events("activity.created")

    # The dispatcher died before marking the event done: it is delivered again, and once more after that.
    for _ in range(2):
        await mark_undispatched(auto.sessions, event.id)
        await auto.settle()

    assert len(auto.handler.started) == 1
    [run] = await auto.runs(rule_id)
    assert run.outcome == "succeeded"
    # Even a start that gets past the run table (e.g. a second dispatcher at the same moment) is refused
    # by Temporal: the business-key workflow ID exists.
    with pytest.raises(WorkflowAlreadyStartedError):
        await workflow_env.client.start_workflow(
            AutomationRunWorkflow.run,
            AutomationRunInput(rule_id=rule_id, event_id=event.id),
            id=auto.handler.workflow_id(rule_id, event.id),
            task_queue=auto.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    handle = workflow_env.client.get_workflow_handle(auto.handler.workflow_id(rule_id, event.id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert len(await auto.runs()) == 1


async def test_a_second_workflow_for_the_same_run_does_not_act_again(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, workflow_env: WorkflowEnvironment
) -> None:
    """After the retention period the workflow ID is free again; the run row still says it ran."""
    rule_id = await auto.enable("cancellation_archives_contact")
    await post(api, "/api/activities", {**CANCELLATION, "contact_id": office.prospect.id})
    await auto.settle()
    [event] = await auto.events("activity.created")
    async with auto.sessions.begin() as session:
        contact = await session.get(Contact, office.prospect.id)
        assert contact is not None
        contact.status = ContactStatus.PROSPECT  # an agent took the contact out of the archive again

    result = await workflow_env.client.execute_workflow(
        AutomationRunWorkflow.run,
        AutomationRunInput(rule_id=rule_id, event_id=event.id),
        id=f"again-{auto.task_queue}",
        task_queue=auto.task_queue,
    )

    assert result.outcome == "succeeded"
    assert (await auto.get(Contact, office.prospect.id)).status == ContactStatus.PROSPECT
    assert len(await auto.runs()) == 1


async def test_a_broken_template_is_a_failed_run_with_its_error_on_the_admin_page(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, smtp_sink: SmtpSink, settings: Settings
) -> None:
    async with auto.sessions.begin() as session:
        session.add(
            MessageTemplate(
                key="automation.broken",
                name="Kaputt",
                subject="Hallo {{ contact.name }}",
                body="Ihr Objekt: {{ property.title }}",  # a note on a contact has no property
            )
        )
    rule = await post(
        api,
        "/api/automations",
        {
            "name": "Notiz → Mail und archivieren",
            "trigger": "note.created",
            "actions": [
                {"kind": "send_email", "params": {"template_key": "automation.broken"}},
                {"kind": "archive_contact", "params": {}},
            ],
            "enabled": True,
        },
    )
    await post(api, "/api/notes", {"text": "Interessent angerufen", "contact_id": office.prospect.id})

    await auto.settle()

    [run] = await auto.runs(rule["id"])
    assert run.outcome == "failed"
    await auto.record(run.workflow_id, "automation-failed-template")
    assert run.error is not None
    assert run.error.startswith(
        "Aktion 1/2 (E-Mail aus Vorlage senden): Vorlage „automation.broken“ lässt sich nicht füllen"
    )
    assert "'property' is undefined" in run.error
    assert run.error_detail is not None and run.error_detail.startswith("AutomationActionError: ")
    assert [(s["index"], s["status"]) for s in run.steps] == [(0, "failed")]
    # Nothing half-done: no mail queued or sent, the second action never ran.
    async with auto.sessions() as session:
        assert list(await session.scalars(select(Message))) == []
    assert smtp_sink.received == []
    assert (await auto.get(Contact, office.prospect.id)).status == ContactStatus.PROSPECT

    page = await api.get("/automations")
    assert page.status_code == 200
    row = page.text.split(f'id="rule-{rule["id"]}"')[1].split("</tr>")[0]
    assert f'href="/automations/{rule["id"]}/runs" class="failed"' in row
    assert "fehlgeschlagen" in row
    assert "Vorlage „automation.broken“ lässt sich nicht füllen" in row

    runs_page = await api.get(f"/automations/{rule['id']}/runs")
    assert f'href="/automations/runs/{run.id}"' in runs_page.text
    detail = await api.get(f"/automations/runs/{run.id}")
    assert detail.status_code == 200
    assert "AutomationActionError: " in detail.text
    workflow_link = f"{settings.temporal_ui_url}/namespaces/default/workflows/{run.workflow_id}"
    assert f'href="{workflow_link}"' in detail.text
    assert run.workflow_id is not None and run.workflow_id.startswith(f"automation-{rule['id']}-")

    api_run = (await api.get(f"/api/automations/runs/{run.id}")).json()
    assert (api_run["outcome"], api_run["workflow_url"]) == ("failed", workflow_link)


async def test_a_disabled_rule_does_not_fire(auto: AutomationHarness, office: Office, api: httpx.AsyncClient) -> None:
    async with auto.sessions() as session:
        rules = list(await session.scalars(select(AutomationRule)))
    assert len(rules) == 7 and not any(rule.enabled for rule in rules)  # shipped switched off
    await post(api, "/api/activities", {**CANCELLATION, "contact_id": office.prospect.id})
    await auto.settle()
    assert await auto.runs() == []
    assert (await auto.get(Contact, office.prospect.id)).status == ContactStatus.PROSPECT
    async with auto.sessions() as session:
        undelivered = await session.scalar(select(DomainEvent).where(DomainEvent.dispatched_at.is_(None)))
    assert undelivered is None
