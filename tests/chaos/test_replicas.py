"""Every process twice: two workers (each with its dispatcher) and two web apps on one PostgreSQL and one Temporal
server, and `kill -9` of one replica of each while inquiries, CRM events, automations and leads are in flight.

What the office must not notice: every domain event delivered with one effect (an automation run per note and
rule, one task, one mail; a lead workflow per lead that saw its phase change), every mail sent once (the
chaos verdict of tests/chaos/support.py), and every request answered by the replica that is left. Requests are
spread the way the compose file's proxy spreads them (deploy/Caddyfile: round robin, a refused connection goes
to the next replica).

Sessions and login throttles across the web replicas are tests/test_web_replicas.py (in-process, cheap).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from benchmarks.stack import ProcessStack, auth_headers
from db.models import AutomationRun, DomainEvent, Message, MessageStatus, Task, User
from starter.dev.demo import AGENT_PASSWORD
from starter.services.showcase import AGENT_EMAIL
from tests import factories
from tests.chaos.support import FINAL, Inspector, Planned, assert_exactly_once, mail_key, plan
from tests.conftest import POSTGRES_URL, worker_database
from tests.http import csrf_from
from tests.lead_harness import PROCESS
from workflows.lead import LeadWorkflow
from workflows.lead_models import LeadResult, lead_workflow_id

WEB = ("web", "web-2")
WORKERS = ("worker", "worker-2")
CONTACTS = 8
LEADS = 4
NOTE = "Replika-Test: bitte zurückrufen"
TASK_TITLE = "Rückruf nach Replika-Notiz"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[ProcessStack]:
    """SKIP LOCKED is what lets two dispatchers share the outbox: PostgreSQL, a database of this test's own."""
    if not POSTGRES_URL:
        pytest.skip("replicas share PostgreSQL: set IMMOFLOW_TEST_POSTGRES_URL")
    with worker_database(POSTGRES_URL, suffix=f"replicas_{uuid.uuid4().hex[:8]}") as url:
        async with ProcessStack(tmp_path / "stack", database_url=url) as value:
            yield value


class Balancer:
    """The proxy's part: round robin over the web replicas, the next one when a replica refuses the connection.

    Like Caddy, only a refused connection is retried for any request; a request that reached a replica
    before it died is the caller's to judge (intake retries it: the portal's resend is idempotent).
    """

    def __init__(self, stack: ProcessStack, names: Sequence[str]) -> None:
        headers = auth_headers(stack.api_token)
        self._clients = {n: httpx.AsyncClient(base_url=stack.web_url(n), headers=headers, timeout=30) for n in names}
        self._order = itertools.cycle(names)
        self.served: Counter[str] = Counter()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(20 * len(self._clients)):
            name = next(self._order)
            try:
                response = await self._clients[name].request(method, path, **kwargs)
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
                continue
            self.served[name] += 1
            return response
        raise AssertionError(f"no web replica answered {method} {path}")

    async def write(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self.request("POST", path, json=payload)
        assert response.status_code in (200, 201, 202), f"{path}: {response.status_code} {response.text}"
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


async def submit(balancer: Balancer, planned: Sequence[Planned], deadline: float = 90.0) -> Counter[int]:
    """POST every inquiry until one replica accepts it; 0 counts requests that got no answer at all."""
    seen: Counter[int] = Counter()
    gate = asyncio.Semaphore(4)
    stop_at = time.monotonic() + deadline

    async def one(item: Planned) -> None:
        async with gate:
            while True:
                try:
                    response = await balancer.request("POST", "/api/inquiries", json=item.payload())
                    status = response.status_code
                except httpx.TransportError:  # the replica died with the request in it: resend, as a portal does
                    status = 0
                seen[status] += 1
                if status in (200, 201, 202):
                    item.inquiry_id = int(response.json()["id"])
                    return
                assert status in (0, 503), f"{status}: {response.text}"
                assert time.monotonic() < stop_at, f"intake still refused after {deadline:.0f} s: {seen}"
                await asyncio.sleep(0.2)

    await asyncio.gather(*(one(item) for item in planned))
    return seen


async def until(check: Any, what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {within:.0f} s"
        await asyncio.sleep(0.5)


async def test_one_replica_of_each_killed_everything_still_happens_once(stack: ProcessStack) -> None:
    await stack.start(workers=2)
    stack.start_web("web-2")
    await stack.wait_web("web-2")
    inspector = Inspector(stack)
    balancer = Balancer(stack, WEB)
    try:
        await assert_web_replicas_agree(stack)
        await run_scenario(stack, inspector, balancer)
        for name in ("worker", "web"):  # the verdict is in: no need to wait for their graceful drain
            stack.kill(name)
    finally:
        await balancer.close()
        await inspector.close()


async def assert_web_replicas_agree(stack: ProcessStack) -> None:
    """What one web process knows, the other knows: a login, and its logout (separate processes, one database).

    The shared login throttle is tested in-process in tests/test_web_replicas.py.
    """
    first, second = (httpx.AsyncClient(base_url=stack.web_url(name), timeout=30) for name in WEB)
    async with first, second:
        page = await first.get("/login")
        form = {"email": AGENT_EMAIL, "password": AGENT_PASSWORD, "csrf_token": csrf_from(page.text), "next": ""}
        assert (await first.post("/login", data=form)).status_code == 303
        assert (await second.get("/dashboard")).status_code == 303  # no session yet on this browser
        second.cookies.update({cookie.name: cookie.value or "" for cookie in first.cookies.jar})
        dashboard = await second.get("/dashboard")
        assert dashboard.status_code == 200, dashboard.text[:300]
        logout = await second.post("/logout", data={"csrf_token": csrf_from(dashboard.text)})
        assert logout.status_code == 303
        assert (await first.get("/dashboard")).status_code == 303  # the session ended for both replicas


async def run_scenario(stack: ProcessStack, inspector: Inspector, balancer: Balancer) -> None:
    began = time.monotonic()
    settings = (await balancer.request("GET", "/api/settings/inquiry-manager")).raise_for_status().json()
    config = {"followup_interval": "PT6S", "followup_attempts": 1, "final_notice": "email"}
    (await balancer.request("PUT", "/api/settings/inquiry-manager", json={**settings, **config})).raise_for_status()
    async with inspector.sessions() as session:
        agent_id = await session.scalar(select(User.id).where(User.email == AGENT_EMAIL))
    rule = await balancer.write(
        "/api/automations",
        {
            "name": "Replika-Notiz: Mail und Rückruf",
            "trigger": "note.created",
            "conditions": [{"field": "text", "op": "contains", "value": "Replika-Test"}],
            "actions": [
                {"kind": "send_email", "params": {"template_key": "automation.first_email", "to": "contact"}},
                {"kind": "create_task", "params": {"title": TASK_TITLE, "assignee": "user", "user_id": agent_id}},
            ],
            "enabled": True,
        },
    )
    contacts = [
        await balancer.write("/api/contacts", {"last_name": f"Replika{n}", "email": f"replika-{n}@example.org"})
        for n in range(CONTACTS)
    ]
    for n in range(CONTACTS):  # the first email is advertising: without a confirmed consent the outbox refuses it
        await factories.confirmed_advertising_consent(inspector.sessions, f"replika-{n}@example.org")
    process = await balancer.write("/api/sales-processes", {**PROCESS, "name": "Replika-Verkauf"})
    leads = [
        await balancer.write(
            "/api/leads",
            {
                "title": f"Lead {n}",
                "contact_id": contacts[n]["id"],
                "process_id": process["id"],
                "taker_user_id": agent_id,
            },
        )
        for n in range(LEADS)
    ]

    # Intake on both replicas; one of them dies in the middle of it.
    planned = plan(known=14, expires=14)
    sending = asyncio.create_task(submit(balancer, planned))
    while sum(p.inquiry_id is not None for p in planned) < 8:  # noqa: ASYNC110 (progress of another task)
        await asyncio.sleep(0.05)
    served_before_kill = balancer.served["web-2"]
    stack.kill("web-2")
    # CRM writes reach the replica that is left; their events go to whichever dispatcher locks them first.
    for contact in contacts:
        await balancer.write("/api/notes", {"text": NOTE, "contact_id": contact["id"]})
    second_phase = process["phases"][1]["id"]
    for lead in leads:
        await balancer.write(f"/api/leads/{lead['id']}/phase", {"phase_id": second_phase})
    await sending
    assert served_before_kill > 0, "web-2 took no share of the traffic before it died"
    assert all(p.inquiry_id is not None for p in planned)  # every inquiry accepted, the rest by `web` alone

    # Mid-flight: mails going out from both workers, automations running, inquiries asleep. Since an inquiry's
    # mail is one activity, the first mails can all fall to one worker: wait (boundedly) until both have sent.
    await inspector.wait_mails(CONTACTS, within=60)
    deadline = time.monotonic() + 60
    while idle := [name for name in WORKERS if "sent (" not in stack.log_tail(name, chars=10**7)]:
        assert time.monotonic() < deadline, f"{idle} sent nothing: the work was not shared"
        await asyncio.sleep(0.2)
    print(f"\n[replicas] worker-2 killed after {time.monotonic() - began:.1f} s")
    stack.kill("worker-2")
    async with inspector.sessions() as session:
        leased = set(
            await session.scalars(select(Message.idempotency_key).where(Message.status == MessageStatus.SENDING))
        )

    # Everything finishes on the replicas that are left.
    await inspector.wait_final(planned, within=150)
    print(f"[replicas] inquiries final after {time.monotonic() - began:.1f} s")

    async def automations_done() -> bool:
        async with inspector.sessions() as session:
            outcomes = list(
                await session.scalars(select(AutomationRun.outcome).where(AutomationRun.rule_id == rule["id"]))
            )
        return len(outcomes) >= CONTACTS and all(outcome != "running" for outcome in outcomes)

    await until(automations_done, "the notes' automation runs", within=90)
    copies = await assert_exactly_once(inspector, planned, attempts=1, notice="email", window=leased)
    await assert_events_had_one_effect(
        stack, inspector, rule["id"], copies, [lead["id"] for lead in leads], second_phase
    )
    assert {p.external_id for p in planned} <= {k for k, v in (await inspector.statuses()).items() if v in FINAL}
    print(
        f"\nreplicas: {len(planned)} inquiries, {CONTACTS} notes, {LEADS} leads; requests per web replica"
        f" {dict(balancer.served)}; {len(leased)} outbox rows leased at the worker kill"
    )


async def assert_events_had_one_effect(
    stack: ProcessStack,
    inspector: Inspector,
    rule_id: int,
    copies: Counter[str],
    lead_ids: list[int],
    phase_id: int,
) -> None:
    async with inspector.sessions() as session:
        events = list(await session.scalars(select(DomainEvent)))
        runs = list(await session.scalars(select(AutomationRun).where(AutomationRun.rule_id == rule_id)))
        tasks = list(await session.scalars(select(Task.title).where(Task.title == TASK_TITLE)))
    undelivered = [(e.id, e.kind, e.error) for e in events if e.dispatched_at is None]
    assert not undelivered, f"events never delivered: {undelivered}"
    notes = sorted(e.id for e in events if e.kind == "note.created")
    assert len(notes) == CONTACTS
    # One run per (rule, note event), each with both actions done: redelivery after the kill changed nothing.
    assert sorted(run.event_id for run in runs) == notes
    assert {run.outcome for run in runs} == {"succeeded"}, [(r.event_id, r.outcome, r.steps) for r in runs]
    assert len(tasks) == CONTACTS
    automation_mails = {key: n for key, n in copies.items() if key.startswith(f"automation:{rule_id}:")}
    # automation:<rule>:event:<event>:<action>; one mail action per run
    assert sorted(int(key.split(":event:")[1].split(":")[0]) for key in automation_mails) == notes
    # Each lead: one workflow (started once, never twice), and it saw its phase change.
    client = await stack.client()
    for lead_id in lead_ids:
        workflow_id = lead_workflow_id(lead_id)
        assert (await client.count_workflows(f'WorkflowId="{workflow_id}"')).count == 1
        status = await client.get_workflow_handle(workflow_id, result_type=LeadResult).query(LeadWorkflow.status)
        assert status.phase_id == phase_id, (lead_id, status)
    assert all(mail_key(mail) for mail in stack.mail.received)
