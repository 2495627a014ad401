"""Drives automations end to end: CRM change (API) → domain event → dispatcher → AutomationRunWorkflow on
the time-skipping server, with the real activities, database and SMTP sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Worker

from activities.automations import AutomationActivities
from activities.messages import MessageActivities, SmtpTransport
from automations.rules import ensure_builtin_rules
from db.models import (
    AutomationRule,
    AutomationRun,
    Contact,
    ContactStatus,
    DomainEvent,
    Message,
    PropertyContactPerson,
    User,
)
from db.session import SessionFactory
from settings import Settings
from starter.events.automations import AutomationEventHandler
from starter.events.dispatcher import Dispatcher
from starter.temporal.histories import HISTORIES_DIR, portable_json
from tests import factories
from workflows.automation import AutomationRunWorkflow
from workflows.birthday_scan import BirthdayScanWorkflow

MAX_DEPTH = 3
RECORD = os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1"


class RecordingHandler(AutomationEventHandler):
    """The production handler, remembering which workflows it started so tests can wait for them."""

    def __init__(self, task_queue: str, max_depth: int = MAX_DEPTH) -> None:
        super().__init__(task_queue, max_depth)
        self.started: list[str] = []

    def workflow_id(self, rule_id: int, event_id: int) -> str:
        # Every test empties the database, so rule and event ids repeat across tests, while the session's
        # Temporal server remembers every workflow ID: the task queue keeps one test's IDs its own.
        return f"{super().workflow_id(rule_id, event_id)}-{self._task_queue}"

    async def _start(self, client: Client, rule: AutomationRule, event: DomainEvent) -> None:
        await super()._start(client, rule, event)
        self.started.append(self.workflow_id(rule.id, event.id))


@dataclass
class Office:
    agent: User
    partner_user: User
    partner_contact: Contact
    property_id: int
    property_ref: str
    prospect: Contact


@dataclass
class AutomationHarness:
    client: Client
    sessions: SessionFactory
    settings: Settings
    task_queue: str
    handler: RecordingHandler
    awaited: set[str] = field(default_factory=set)

    @property
    def dispatcher(self) -> Dispatcher:
        from automations.triggers import triggers

        return Dispatcher(self.sessions, self.client, {kind: [self.handler] for kind in triggers()})

    async def settle(self, rounds: int = 12) -> None:
        """Deliver events and wait for the runs they start, until nothing is left (chains included)."""
        dispatcher = self.dispatcher
        for _ in range(rounds):
            handled = await dispatcher.run_once()
            pending = [wid for wid in self.handler.started if wid not in self.awaited]
            for workflow_id in pending:
                await self.client.get_workflow_handle(workflow_id).result()
                self.awaited.add(workflow_id)
            if handled == 0 and not pending:
                return
        raise AssertionError("events kept coming: a loop the guard did not cut?")

    async def record(self, workflow_id: str | None, scenario: str) -> None:
        """IMMOFLOW_RECORD_HISTORIES=1 keeps the workflow's history as tests/histories/<scenario>.json."""
        if RECORD and workflow_id is not None:
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            (HISTORIES_DIR / f"{scenario}.json").write_text(portable_json(history))

    async def enable(self, builtin_key: str, **changes: Any) -> int:
        async with self.sessions.begin() as session:
            rule = await session.scalar(select(AutomationRule).where(AutomationRule.builtin_key == builtin_key))
            assert rule is not None, builtin_key
            rule.enabled = True
            for name, value in changes.items():
                setattr(rule, name, value)
            return rule.id

    async def runs(self, rule_id: int | None = None) -> list[AutomationRun]:
        query = select(AutomationRun).order_by(AutomationRun.id)
        if rule_id is not None:
            query = query.where(AutomationRun.rule_id == rule_id)
        async with self.sessions() as session:
            return list(await session.scalars(query))

    async def events(self, kind: str) -> list[DomainEvent]:
        async with self.sessions() as session:
            query = select(DomainEvent).where(DomainEvent.kind == kind).order_by(DomainEvent.id)
            return list(await session.scalars(query))

    async def messages(self, template_key: str | None = None) -> list[Message]:
        query = select(Message).order_by(Message.id)
        if template_key is not None:
            query = query.where(Message.template_key == template_key)
        async with self.sessions() as session:
            return list(await session.scalars(query))

    async def get(self, model: type[Any], row_id: int) -> Any:
        async with self.sessions() as session:
            return await session.get(model, row_id)


async def seed_office(sessions: SessionFactory) -> Office:
    """factories.office plus what automations need: a contact person who is a user, a prospect, the rules."""
    base = await factories.office(sessions)
    async with sessions.begin() as session:
        partner = Contact(
            first_name="Paul",
            last_name="Partner",
            email="paul@office.example",
            status=ContactStatus.AGENT,
            user_id=base["other"].id,
        )
        prospect = Contact(
            salutation="Frau",
            first_name="Petra",
            last_name="Prospekt",
            email="petra@example.com",
            owner_user_id=base["agent"].id,
        )
        session.add_all([partner, prospect])
        await session.flush()
        session.add(PropertyContactPerson(property_id=base["active"].id, contact_id=partner.id, position=0))
        # The test database is emptied per test; the migration's shipped rules come back this way.
        await ensure_builtin_rules(session)
    return Office(
        agent=base["agent"],
        partner_user=base["other"],
        partner_contact=partner,
        property_id=base["active"].id,
        property_ref=base["active"].external_ref,
        prospect=prospect,
    )


@asynccontextmanager
async def running(
    client: Client,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    max_depth: int = MAX_DEPTH,
    transport: Any = None,
) -> AsyncIterator[AutomationHarness]:
    """TRANSPORT: the e-mail transport (default: SMTP to the test's sink)."""
    messages = MessageActivities(sessions, {"email": transport or SmtpTransport(settings)})
    activities = [*AutomationActivities(sessions, settings).all(), messages.deliver_message, messages.withdraw_message]
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AutomationRunWorkflow, BirthdayScanWorkflow],
        activities=activities,
    ):
        yield AutomationHarness(client, sessions, settings, task_queue, RecordingHandler(task_queue, max_depth))


async def post(api: httpx.AsyncClient, path: str, payload: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """POST JSON to the app and return the body, asserting the status first (with the body as the reason)."""
    response = await api.post(path, json=payload)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body
