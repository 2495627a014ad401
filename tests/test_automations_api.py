"""/api/automations and the admin page /automations: list, create, edit, switch on and off, validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from automations.rules import ensure_builtin_rules
from db.base import utcnow
from db.models import AutomationRule, AutomationRun, RunOutcome, User
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.http import app_client

RULE: dict[str, Any] = {
    "name": "Absage wegen Preis → Aufgabe",
    "trigger": "activity.created",
    "conditions": [
        {"field": "kind", "op": "equals", "value": "absage"},
        {"field": "reason", "op": "one_of", "value": ["Zu teuer", "Preis"]},
    ],
    "actions": [{"kind": "create_task", "params": {"title": "Preis nachverhandeln?", "assignee": "property_manager"}}],
}


@pytest.fixture
async def api(settings: Settings, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    await factories.office(sessions)
    async with sessions.begin() as session:
        await ensure_builtin_rules(session)
    async with app_client(settings) as http:
        yield http


async def test_list_has_the_shipped_rules_switched_off(api: httpx.AsyncClient) -> None:
    rules = (await api.get("/api/automations")).json()
    assert [r["builtin_key"] for r in rules] == [
        "inquiry_creates_contact",
        "first_email",
        "birthday_mail",
        "cancellation_archives_contact",
        "note_archives_property",
        "viewing_confirmation",
        "reserved_deal_task",
    ]
    assert not any(r["enabled"] for r in rules)
    assert all(r["last_run"] is None for r in rules)
    reserved = rules[-1]
    assert reserved["trigger_label"] == "Deal-Phase geändert"
    assert reserved["summary"] == [
        "Aufgabe „Reservierung: {{ property.title }} – {{ contact.name }}“ für den Objekt-Ansprechpartner"
    ]


async def test_create_update_enable_disable(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/automations", json=RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["enabled"], rule["builtin_key"]) == (False, None)
    assert rule["actions"] == [
        {"kind": "create_task", "params": {"title": "Preis nachverhandeln?", "assignee": "property_manager"}}
    ]

    changed = await api.put(f"/api/automations/{rule['id']}", json={**RULE, "name": "Neu", "enabled": True})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["enabled"]) == ("Neu", True)

    assert (await api.post(f"/api/automations/{rule['id']}/disable")).json()["enabled"] is False
    assert (await api.post(f"/api/automations/{rule['id']}/enable")).json()["enabled"] is True
    assert (await api.get(f"/api/automations/{rule['id']}/runs")).json() == []
    assert (await api.get("/api/automations/9999")).status_code == 404
    assert (await api.post("/api/automations/9999/enable")).status_code == 404


async def test_invalid_definitions_are_refused_with_every_reason(api: httpx.AsyncClient) -> None:
    bad = {
        **RULE,
        "conditions": [{"field": "stage", "op": "equals", "value": "x"}],
        "actions": [{"kind": "create_task", "params": {"assignee": "contact"}}],
    }
    response = await api.post("/api/automations", json=bad)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 2
    assert "„stage“ gibt es bei „Aktivität angelegt (z. B. Absage)“ nicht" in detail[0]
    assert detail[1].startswith("Aktion 1 (Aufgabe anlegen): title: Field required")

    no_action = await api.post("/api/automations", json={**RULE, "actions": []})
    assert no_action.status_code == 422


async def test_catalog_lists_triggers_fields_and_actions(api: httpx.AsyncClient) -> None:
    catalog = (await api.get("/api/automations/catalog")).json()
    activity = next(t for t in catalog["triggers"] if t["kind"] == "activity.created")
    assert {f["name"] for f in activity["fields"]} == {"kind", "reason", "text"}
    send = next(a for a in catalog["actions"] if a["kind"] == "send_email")
    assert "template_key" in send["params"]["properties"]
    assert catalog["condition_ops"] == ["equals", "one_of", "contains"]


async def test_admin_page_lists_rules_with_switch_and_last_run(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    async with sessions.begin() as session:
        rule = await session.scalar(select(AutomationRule).where(AutomationRule.builtin_key == "first_email"))
        assert rule is not None
        now = utcnow()
        session.add(
            AutomationRun(
                rule_id=rule.id, event_id=1, trigger=rule.trigger, workflow_id=f"automation-{rule.id}-1",
                outcome=RunOutcome.SUCCEEDED, started_at=now, finished_at=now,
            )
        )  # fmt: skip

    page = await api.get("/automations")
    assert page.status_code == 200
    html = page.text
    assert "Automationen" in html and 'href="/automations/new"' in html
    row = html.split(f'id="rule-{rule.id}"')[1].split("</tr>")[0]
    assert "Nachdem ein Interessent automatisch angelegt wurde" in row
    assert "Kontakt angelegt" in row and "wenn Von einer Automation angelegt ist „ja“" in row
    assert "E-Mail „automation.first_email“ an den Kontakt" in row
    assert f'action="/automations/{rule.id}/toggle"' in row and 'aria-checked="false"' in row
    assert f'href="/automations/{rule.id}/runs"' in row and "erfolgreich" in row
    assert 'class="failed"' not in row

    toggled = await api.post(f"/automations/{rule.id}/toggle", data={"enabled": "1"})
    assert toggled.status_code == 303
    assert (await api.get(f"/api/automations/{rule.id}")).json()["enabled"] is True
    row = (await api.get("/automations")).text.split(f'id="rule-{rule.id}"')[1].split("</tr>")[0]
    assert 'aria-checked="true"' in row


async def test_form_creates_and_edits_a_rule(api: httpx.AsyncClient, sessions: SessionFactory) -> None:
    form = await api.get("/automations/new")
    assert form.status_code == 200
    assert 'name="action-0-send_email-template_key"' in form.text
    assert "automation.birthday" in form.text  # templates offered, the shipped ones included

    data = {
        "name": "Notiz „verkauft“ → Objekt archivieren, Mail an Betreuer",
        "trigger": "note.created",
        "enabled": "1",
        "cond-0-field": "text",
        "cond-0-op": "contains",
        "cond-0-value": "verkauft",
        "cond-1-field": "",
        "action-0-kind": "archive_property",
        "action-1-kind": "send_email",
        "action-1-send_email-template_key": "automation.first_email",
        "action-1-send_email-to": "property_manager",
        "action-1-send_email-user_id": "",
        "action-1-create_task-title": "ignored: another kind's input",
        "action-2-kind": "",
    }
    created = await api.post("/automations/new", data=data)
    assert created.status_code == 303, created.text
    rules = (await api.get("/api/automations")).json()
    rule = next(r for r in rules if r["name"].startswith("Notiz „verkauft“"))
    assert rule["enabled"] is True
    assert rule["conditions"] == [{"field": "text", "op": "contains", "value": "verkauft"}]
    assert rule["actions"] == [
        {"kind": "archive_property", "params": {}},
        {"kind": "send_email", "params": {"template_key": "automation.first_email", "to": "property_manager"}},
    ]

    edit = await api.get(f"/automations/{rule['id']}")
    assert 'value="verkauft"' in edit.text
    assert '<option value="property_manager" selected>' in edit.text

    refused = await api.post(f"/automations/{rule['id']}", data={**data, "cond-0-field": "stage"})
    assert refused.status_code == 422
    assert "„stage“ gibt es bei „Notiz angelegt“ nicht" in refused.text
    saved = await api.post(f"/automations/{rule['id']}", data={**data, "name": "Umbenannt", "enabled": ""})
    assert saved.status_code == 303
    saved_rule = (await api.get(f"/api/automations/{rule['id']}")).json()
    assert (saved_rule["name"], saved_rule["enabled"]) == ("Umbenannt", False)

    missing = await api.post("/automations/new", data={"name": "", "trigger": "note.created"})
    assert missing.status_code == 422
    assert "mindestens eine Aktion wählen" in missing.text


async def test_summaries_name_the_chosen_user(api: httpx.AsyncClient, sessions: SessionFactory) -> None:
    async with sessions() as session:
        user_id, name = (await session.execute(select(User.id, User.name).order_by(User.id).limit(1))).one()
    rule = {
        **RULE,
        "actions": [
            {
                "kind": "send_email",
                "params": {"template_key": "automation.first_email", "to": "user", "user_id": user_id},
            },
            {"kind": "create_task", "params": {"title": "Anrufen", "assignee": "user", "user_id": user_id}},
        ],
    }
    created = await api.post("/api/automations", json=rule)
    assert created.status_code == 201, created.text
    summary = created.json()["summary"]
    assert summary == [f"E-Mail „automation.first_email“ an {name}", f"Aufgabe „Anrufen“ für {name}"]
    listed = next(r for r in (await api.get("/api/automations")).json() if r["id"] == created.json()["id"])
    assert listed["summary"] == summary and not any("Benutzer #" in line for line in summary)
