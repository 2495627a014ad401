"""Each trigger and each action end to end, on SQLite and PostgreSQL: a CRM change through the API (or an
inquiry, or the birthday scan) writes its event, the dispatcher starts the run, the run does the seed's
effect and records it. The shipped rules are used as they ship, switched on."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.events import InquiryReceived, record_event
from db.models import Contact, ContactStatus, Deal, Inquiry, Property, Task
from db.session import SessionFactory
from starter.dev.smtp_sink import SmtpSink
from tests import factories
from tests.automation_harness import AutomationHarness, Office, post
from workflows.automation_models import BirthdayScanInput, ScanResult
from workflows.birthday_scan import BirthdayScanWorkflow


async def received_inquiry(sessions: SessionFactory, **fields: Any) -> Inquiry:
    """An inquiry with its `inquiry.received` event, as the intake writes them (one transaction)."""
    inquiry = await factories.inquiry(sessions, **fields)
    async with sessions.begin() as session:
        event = InquiryReceived(
            inquiry_id=inquiry.id,
            source=inquiry.source,
            property_ref=inquiry.property_ref,
            mailbox=inquiry.mailbox_address,
            workflow_id=inquiry.workflow_id,
        )
        record_event(session, event)
    return inquiry


# --- inquiry.received → create_contact; contact.created → send_email -----------------------------------


async def test_new_inquiry_creates_the_prospect_who_gets_the_first_email(
    auto: AutomationHarness, office: Office, smtp_sink: SmtpSink
) -> None:
    create = await auto.enable("inquiry_creates_contact")
    first_email = await auto.enable("first_email")
    await factories.confirmed_advertising_consent(auto.sessions, "nina@example.com")  # advertising needs it
    inquiry = await received_inquiry(auto.sessions, email="nina@example.com", first_name="Nina", last_name="Neu")

    await auto.settle()

    async with auto.sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.email == "nina@example.com"))
    assert contact is not None
    assert (contact.first_name, contact.last_name, contact.zip_code) == ("Nina", "Neu", "10117")
    assert contact.status == ContactStatus.PROSPECT
    assert contact.newsletter is True
    assert contact.owner_user_id == office.partner_user.id  # the property's contact person
    created = [e for e in await auto.events("contact.created") if e.payload["contact_id"] == contact.id]
    assert [(e.depth, e.payload["created_by_automation"]) for e in created] == [(1, True)]

    [run] = await auto.runs(create)
    assert (run.outcome, run.event_depth, run.facts["inquiry_id"]) == ("succeeded", 0, inquiry.id)
    [mail_run] = await auto.runs(first_email)
    assert (mail_run.outcome, mail_run.event_depth) == ("succeeded", 1)
    await auto.record(run.workflow_id, "automation-create-contact")
    await auto.record(mail_run.workflow_id, "automation-first-email")
    [message] = await auto.messages("automation.first_email")
    assert (message.status, message.contact_id) == ("sent", contact.id)
    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ("nina@example.com",)
    assert mail.subject == "Willkommen bei Otto Other"
    assert "Sehr geehrte Frau Neu," in mail.text
    assert "„Helle 3-Zimmer-Wohnung am Park“" not in mail.text  # a contact event carries no property


async def test_inquiry_rule_only_for_a_given_portal(auto: AutomationHarness, office: Office) -> None:
    only_website = [{"field": "source", "op": "equals", "value": "website"}]
    rule = await auto.enable("inquiry_creates_contact", conditions=only_website)
    await received_inquiry(auto.sessions, email="portal@example.com", source="immoscout24")
    await received_inquiry(auto.sessions, email="web@example.com", source="website")

    await auto.settle()

    async with auto.sessions() as session:
        emails = set(await session.scalars(select(Contact.email).where(Contact.source.like("automation%"))))
    assert emails == {"web@example.com"}
    assert len(await auto.runs(rule)) == 1


async def test_first_email_only_for_contacts_an_automation_created(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, smtp_sink: SmtpSink
) -> None:
    rule = await auto.enable("first_email")
    await post(api, "/api/contacts", {"last_name": "Hand", "email": "hand@example.com"})
    await auto.settle()
    assert await auto.runs(rule) == []
    assert smtp_sink.received == []


# --- activity.created → archive_contact ----------------------------------------------------------------


async def test_cancellation_with_the_reason_archives_the_contact(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient
) -> None:
    rule = await auto.enable("cancellation_archives_contact")
    other = await factories.contact(auto.sessions, email="bleibt@example.com")
    reason = "Kein Kontakt mehr gewünscht"
    await post(api, "/api/activities", {"kind": "absage", "reason": reason, "contact_id": office.prospect.id})
    await post(api, "/api/activities", {"kind": "absage", "reason": "Zu teuer", "contact_id": other.id})
    await post(api, "/api/activities", {"kind": "telefonat", "reason": reason, "contact_id": other.id})

    await auto.settle()

    assert (await auto.get(Contact, office.prospect.id)).status == ContactStatus.ARCHIVED
    assert (await auto.get(Contact, other.id)).status == ContactStatus.PROSPECT
    [run] = await auto.runs(rule)
    assert run.outcome == "succeeded"
    assert run.steps[0]["detail"] == f"Kontakt #{office.prospect.id} archiviert"


# --- note.created → archive_property -------------------------------------------------------------------


async def test_note_with_the_text_archives_the_linked_property(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient
) -> None:
    await auto.enable("note_archives_property")
    await post(api, "/api/notes", {"text": "Rückruf morgen", "property_id": office.property_id})
    await auto.settle()
    assert (await auto.get(Property, office.property_id)).archived is False

    await post(api, "/api/notes", {"text": "Eigentümer: bitte OBJEKT ARCHIVIEREN", "property_id": office.property_id})
    await auto.settle()
    assert (await auto.get(Property, office.property_id)).archived is True


# --- appointment.created → send_email ------------------------------------------------------------------


async def test_viewing_appointment_sends_the_confirmation(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient, smtp_sink: SmtpSink
) -> None:
    await auto.enable("viewing_confirmation")
    viewing = {
        "kind": "viewing",
        "title": "Besichtigung W-1001",
        "starts_at": "2026-12-03T10:00:00+01:00",
        "ends_at": "2026-12-03T10:30:00+01:00",
        "contact_id": office.prospect.id,
        "property_id": office.property_id,
    }
    await post(api, "/api/appointments", viewing)
    await post(api, "/api/appointments", {**viewing, "kind": "general", "title": "Übergabe"})

    await auto.settle()

    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ("petra@example.com",)
    assert mail.subject == "Terminbestätigung: 03.12.2026 um 10:00 Uhr"
    assert "Besichtigung von „Helle 3-Zimmer-Wohnung am Park“" in mail.text
    assert "von 10:00 bis 10:30 Uhr" in mail.text
    assert "Anna Agent" in mail.text  # the prospect's owner signs


# --- deal.stage_changed → create_task; update_contact, set_deal_stage ----------------------------------


async def test_deal_reserved_creates_a_task_for_the_contact_person(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient
) -> None:
    rule = await auto.enable("reserved_deal_task")
    deal = await post(
        api, "/api/deals", {"contact_id": office.prospect.id, "property_id": office.property_id, "stage": "Anfrage"}
    )
    moved = await post(api, f"/api/deals/{deal['id']}/stage", {"stage": "Reserviert"}, status=200)
    again = await post(api, f"/api/deals/{deal['id']}/stage", {"stage": "Reserviert"}, status=200)
    assert (moved["changed"], again["changed"]) == (True, False)

    await auto.settle()

    async with auto.sessions() as session:
        [task] = list(await session.scalars(select(Task)))
    assert task.assignee_user_id == office.partner_user.id
    assert task.title == "Reservierung: Helle 3-Zimmer-Wohnung am Park – Petra Prospekt"
    assert task.body is not None and f"Deal #{deal['id']}" in task.body
    assert (task.contact_id, task.property_id) == (office.prospect.id, office.property_id)
    assert task.due_at is not None
    assert len(await auto.runs(rule)) == 1


async def test_update_contact_and_set_deal_stage(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient
) -> None:
    rule = {
        "name": "Verkauft: Kunde, Betreuer = Objektbetreuer, Deal abschließen",
        "trigger": "deal.stage_changed",
        "conditions": [{"field": "stage", "op": "equals", "value": "Verkauft"}],
        "actions": [
            {
                "kind": "update_contact",
                "params": {"status": "customer", "newsletter": False, "owner": "property_manager"},
            },
            {"kind": "set_deal_stage", "params": {"stage": "Abgeschlossen"}},
        ],
        "enabled": True,
    }
    created = await post(api, "/api/automations", rule)
    deal = await post(
        api, "/api/deals", {"contact_id": office.prospect.id, "property_id": office.property_id, "stage": "Reserviert"}
    )
    await post(api, f"/api/deals/{deal['id']}/stage", {"stage": "Verkauft"}, status=200)

    await auto.settle()

    contact = await auto.get(Contact, office.prospect.id)
    assert (contact.status, contact.newsletter, contact.owner_user_id) == ("customer", False, office.agent.id)
    assert (await auto.get(Deal, deal["id"])).stage == "Abgeschlossen"
    last = (await auto.events("deal.stage_changed"))[-1]
    assert (last.payload["stage"], last.payload["previous_stage"], last.depth) == ("Abgeschlossen", "Verkauft", 1)
    [run] = await auto.runs(created["id"])
    assert [step["status"] for step in run.steps] == ["done", "done"]


# --- birthday → send_email -----------------------------------------------------------------------------


async def test_birthday_mail_once_per_year_and_29_february_on_the_28th(
    auto: AutomationHarness, office: Office, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    rule = await auto.enable("birthday_mail")
    leap = await factories.contact(
        auto.sessions, email="schalt@example.com", last_name="Schalt", birthday=date(1988, 2, 29)
    )
    await factories.contact(auto.sessions, email="maerz@example.com", birthday=date(1990, 3, 1))
    await factories.confirmed_advertising_consent(auto.sessions, "schalt@example.com")  # advertising needs it

    scan_ids: list[str] = []

    async def scan(day: date) -> ScanResult:
        scan_ids.append(f"birthday-scan-{auto.task_queue}-{len(scan_ids)}")
        return await workflow_env.client.execute_workflow(
            BirthdayScanWorkflow.run, BirthdayScanInput(day=day), id=scan_ids[-1], task_queue=auto.task_queue
        )

    first = await scan(date(2027, 2, 28))  # 2027 has no 29 February
    await auto.record(scan_ids[-1], "birthday-scan")
    second = await scan(date(2027, 2, 28))  # the scan ran twice (catch-up, manual start)
    assert (first.new_events, second.new_events, second.already_greeted) == (1, 0, 1)

    await auto.settle()

    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ("schalt@example.com",)
    assert mail.subject == "Alles Gute zum Geburtstag!"
    [run] = await auto.runs(rule)
    assert (run.facts["contact_id"], run.facts["year"], run.facts["age"]) == (leap.id, 2027, 39)
    [message] = await auto.messages("automation.birthday")
    assert message.idempotency_key == f"automation:{rule}:birthday:{leap.id}:2027:0"


# --- guarantees ----------------------------------------------------------------------------------------


async def test_a_loop_is_cut_by_the_depth_limit(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient
) -> None:
    def flip(source: str, target: str) -> dict[str, Any]:
        return {
            "name": f"{source} → {target}",
            "trigger": "deal.stage_changed",
            "conditions": [{"field": "stage", "op": "equals", "value": source}],
            "actions": [{"kind": "set_deal_stage", "params": {"stage": target}}],
            "enabled": True,
        }

    ping = await post(api, "/api/automations", flip("Reserviert", "Verkauft"))
    pong = await post(api, "/api/automations", flip("Verkauft", "Reserviert"))
    deal = await post(api, "/api/deals", {"contact_id": office.prospect.id, "stage": "Anfrage"})
    await post(api, f"/api/deals/{deal['id']}/stage", {"stage": "Reserviert"}, status=200)

    await auto.settle()

    events = await auto.events("deal.stage_changed")
    assert [(e.payload["stage"], e.depth) for e in events] == [
        ("Reserviert", 0),
        ("Verkauft", 1),
        ("Reserviert", 2),
        ("Verkauft", 3),
    ]
    runs = await auto.runs()
    assert [(r.rule_id, r.event_depth, r.outcome) for r in runs] == [
        (ping["id"], 0, "succeeded"),
        (pong["id"], 1, "succeeded"),
        (ping["id"], 2, "succeeded"),
        (pong["id"], 3, "cut"),
    ]
    assert runs[-1].workflow_id is None
    await auto.record(runs[0].workflow_id, "automation-set-deal-stage")
    assert runs[-1].error is not None and runs[-1].error.startswith("Schleifenschutz")
    listed = (await api.get(f"/api/automations/{pong['id']}")).json()
    assert listed["last_run"]["outcome"] == "cut"


async def test_an_action_without_its_record_fails_visibly(
    auto: AutomationHarness, office: Office, api: httpx.AsyncClient
) -> None:
    rule = await auto.enable("note_archives_property")
    await post(api, "/api/notes", {"text": "Objekt archivieren", "contact_id": office.prospect.id})
    await auto.settle()
    [run] = await auto.runs(rule)
    assert run.outcome == "failed"
    assert run.error == "Aktion 1/1 (Verknüpftes Objekt archivieren): Das Ereignis (note.created) hat kein Objekt"
    assert run.finished_at is not None and run.finished_at - run.started_at < timedelta(minutes=1)
