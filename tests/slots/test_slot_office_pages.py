"""The office's time-slot pages: an agent makes a request, sees the proposals, picks one; settings page.

Logged in through the login form as a browser is (session cookie + CSRF token), against the real app, a
real worker with the time-slot workflow, the database and the SMTP sink.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import Appointment, SlotRequest, User
from db.session import SessionFactory
from domain.passwords import hash_password
from messaging.l10n import time_range
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from tests.http import app_client, login
from tests.slot_harness import SlotHarness, proposals, temporal_down
from workflows.slot_models import SlotState

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]


async def logged_in(http: AsyncClient, sessions: SessionFactory, harness: SlotHarness, *, role: str = "agent") -> str:
    """Give the harness's agent a password (and ROLE) and log in as them through the form."""
    async with sessions.begin() as session:
        agent = await session.get(User, harness.office.agent_id)
        assert agent is not None
        agent.password_hash = hash_password("pw")
        agent.role = role
    return await login(http, agent.email, "pw")


async def test_agent_requests_sees_proposals_and_picks_one(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    app_settings = settings.model_copy(update={"task_queue": harness.task_queue})
    async with app_client(app_settings, workflow_env.client, auth=None) as http:
        token = await logged_in(http, harness.sessions, harness)
        page = await http.get("/slot-requests")
        assert page.status_code == 200 and "Neue Terminanfrage" in page.text and "Nina Neu" in page.text

        forged = await http.post("/slot-requests", data={"contact_id": str(harness.office.prospect_id)})
        assert forged.status_code == 403  # no CSRF token: refused before anything is stored

        form = {
            "csrf_token": token,
            "contact_id": str(harness.office.prospect_id),
            "property_id": str(harness.office.property_id),
            "recipient": "user",
            "recipient_user_id": str(harness.office.agent_id),
            "response_types": ["email", "task"],
            "valid_days": "7",
        }
        created = await http.post("/slot-requests", data=form)
        assert created.status_code == 303, created.text
        detail_path = created.headers["location"]
        request_id = int(detail_path.rsplit("/", 1)[-1])
        async with harness.sessions() as session:
            row = await session.get(SlotRequest, request_id)
            assert row is not None
            assert (row.created_by_user_id, row.response_types) == (harness.office.agent_id, ["email", "task"])
        handle = workflow_env.client.get_workflow_handle(f"slots-{request_id}")
        harness.started.append(handle)  # finished by the harness at the end
        await harness.wait_for(handle, SlotState.WAITING)
        invitation = smtp_sink.received[0]
        assert invitation.rcpt_tos == ("nina@example.com",)
        waiting = await http.get(detail_path)
        assert "noch keine Termine vorgeschlagen" in waiting.text and "Diesen Termin wählen" not in waiting.text

        now = await workflow_env.get_current_time()
        slots = proposals(now, 3)
        await harness.submit(handle, harness.nonce_from(invitation.text), slots)
        await harness.wait_until_routed(handle)
        answered = await http.get(detail_path)
        assert answered.text.count("Diesen Termin wählen") == 3
        assert "Vorschläge erhalten" in answered.text

        chosen = await http.post(f"{detail_path}/choose", data={"csrf_token": token, "position": "2"})
        assert chosen.status_code == 303
        scheduled = await http.get(detail_path)
        assert "Termin 2 gewählt" in scheduled.text and "Termin vereinbart" in scheduled.text
        assert "Diesen Termin wählen" not in scheduled.text
        assert re.search(r'id="proposal-2".*?gewählt', scheduled.text, re.S)

        listed = await http.get("/slot-requests")
        # The list says when (weekday, date and time, as the prospect saw it), not "Vorschlag 2".
        second = time_range(slots[1].starts_at, slots[1].ends_at, ZoneInfo(settings.time_zone))
        assert f'id="slot-request-{request_id}"' in listed.text and second in listed.text
        assert "Vorschlag 2" not in listed.text

    async with harness.sessions() as session:
        appointment = await session.scalar(select(Appointment).order_by(Appointment.id.desc()))
    assert appointment is not None and appointment.starts_at == slots[1].starts_at
    confirmation = smtp_sink.received[-1]
    assert "Terminbestätigung" in confirmation.subject and confirmation.rcpt_tos == ("nina@example.com",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contact_id": ""}, "Kontakt: bitte auswählen"),
        ({"response_types": []}, "Antwort per: bitte auswählen"),
        ({"recipient_user_id": ""}, "Benutzer: bitte auswählen"),
        ({"valid_days": "0"}, "Gültigkeit: 1 bis 365 Tage"),
        ({"valid_days": "366"}, "Gültigkeit: 1 bis 365 Tage"),
        ({"valid_days": "viele"}, "Gültigkeit: bitte eine Zahl"),
        ({"contact_id": "999999"}, "Kontakt 999999 existiert nicht"),
        ({"recipient": "contact_person"}, "braucht eine Immobilie"),  # the user chosen before is ignored
    ],
)
async def test_a_bad_request_form_is_answered_with_the_reason(
    harness: SlotHarness, settings: Settings, change: dict[str, object], message: str
) -> None:
    async with app_client(temporal_down(settings), auth=None) as http:
        token = await logged_in(http, harness.sessions, harness)
        form: dict[str, object] = {
            "csrf_token": token,
            "contact_id": str(harness.office.prospect_id),
            "recipient": "user",
            "recipient_user_id": str(harness.office.agent_id),
            "response_types": ["email"],
            "valid_days": "7",
            **change,
        }
        response = await http.post("/slot-requests", data=form)
    assert response.status_code == 422
    assert message in response.text
    async with harness.sessions() as session:
        assert list(await session.scalars(select(SlotRequest))) == []


async def test_settings_page_saves_texts_validity_and_placeholder_routing(
    harness: SlotHarness, settings: Settings
) -> None:
    async with app_client(temporal_down(settings), auth=None) as http:
        token = await logged_in(http, harness.sessions, harness, role="admin")
        page = await http.get("/settings/time-slots")
        assert page.status_code == 200 and 'value="14"' in page.text
        form = {
            "csrf_token": token,
            "viewing_text": "Kommen Sie <b>vorbei</b>!",
            "general_text": "Wann passt es Ihnen?",
            "valid_days": "3",
            "placeholder_recipient": "contact_person",
            "placeholder_response_types": ["email", "sms"],
        }
        saved = await http.post("/settings/time-slots", data=form)
        assert saved.status_code == 303
        api = (await http.get("/api/settings/time-slots")).json()
        assert api["viewing_text"] == "Kommen Sie <b>vorbei</b>!" and api["default_validity"] == "P3D"
        assert (api["placeholder_recipient"], api["placeholder_response_types"]) == ("contact_person", ["email", "sms"])
        shown = await http.get("/settings/time-slots")
        assert "Kommen Sie &lt;b&gt;vorbei&lt;/b&gt;!" in shown.text  # escaped, never markup

        bad = await http.post("/settings/time-slots", data={**form, "viewing_text": ""})
        assert bad.status_code == 422 and "Text der Besichtigungsseite" in bad.text
        too_long = await http.post("/settings/time-slots", data={**form, "valid_days": "400"})
        assert too_long.status_code == 422 and "Gültigkeit: 1 bis 365 Tage" in too_long.text
        assert (await http.get("/api/settings/time-slots")).json()["viewing_text"] == "Kommen Sie <b>vorbei</b>!"
