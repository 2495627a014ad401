"""The visibility rule: agents see the inquiries, leads and slot requests of the properties visible to them
(and their own leads and slot requests); admins and the API token see everything; pages and API agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from db.base import utcnow
from db.models import Inquiry, Lead, Property, SalesPhase, SalesProcess, SlotRequest, User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from starter.services import dashboard as queries
from tests import factories
from tests.http import app_client, login
from web.security.roles import Viewer
from web.security.visibility import inquiry_condition

PASSWORD = "richtig-geheim"
ANNA, OTTO, ADMIN = "anna@office.example", "otto@office.example", "chefin@office.example"


@dataclass
class World:
    inquiry_visible: int  # W-1001: in Anna's visibility list
    inquiry_hidden: int  # W-1003: managed by Otto
    inquiry_hidden_by_ref: int  # W-1003, property not resolved yet (only the reference)
    inquiry_public: int  # W-1004: visible to everyone
    lead_hidden: int  # W-1003, taken by Otto
    lead_own_on_hidden: int  # W-1003, taken by Anna
    lead_visible: int  # W-1001, taken by Otto
    slots_hidden: int  # W-1003, answered by Otto
    slots_own: int  # no property, answered by Anna
    process_id: int
    contact_id: int
    hidden_property: int
    visible_property: int


@pytest.fixture
async def world(sessions: SessionFactory) -> World:
    office = await factories.office(sessions)
    anna, otto = office["agent"], office["other"]
    async with sessions.begin() as session:
        await session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
        session.add(User(email=ADMIN, name="Clara Chefin", password_hash=hash_password(PASSWORD), role="admin"))
        public = Property(external_ref="W-1004", title="Für alle", marketing_status="active", visible_to_all=True)
        session.add(public)
        await session.flush()
        public_id = public.id
    visible = await factories.inquiry(sessions, email="a@example.com", property_ref="W-1001")
    hidden = await factories.inquiry(sessions, email="b@example.com", property_ref="W-1003")
    by_ref = await factories.inquiry(sessions, email="c@example.com", property_ref="W-1003")
    everyone = await factories.inquiry(sessions, email="d@example.com", property_ref="W-1004")
    contact = await factories.contact(sessions)
    now = utcnow()
    async with sessions.begin() as session:
        for row, property_id in ((visible, office["active"].id), (hidden, office["hidden"].id), (everyone, public_id)):
            await session.execute(update(Inquiry).where(Inquiry.id == row.id).values(property_id=property_id))
        process = SalesProcess(name="Vermietung", phases=[SalesPhase(position=0, name="Erstkontakt")])
        session.add(process)
        await session.flush()
        phase_id = process.phases[0].id

        def lead(title: str, property_id: int, taker: User) -> Lead:
            return Lead(
                title=title,
                contact_id=contact.id,
                property_id=property_id,
                process_id=process.id,
                phase_id=phase_id,
                phase_entered_at=now,
                taker_user_id=taker.id,
            )

        leads = [
            lead("Lead Fremd", office["hidden"].id, otto),
            lead("Lead Eigen", office["hidden"].id, anna),
            lead("Lead Sichtbar", office["active"].id, otto),
        ]

        def slots(property_id: int | None, recipient: User) -> SlotRequest:
            return SlotRequest(
                contact_id=contact.id,
                property_id=property_id,
                recipient_kind="user",
                recipient_user_id=recipient.id,
                response_types=["email"],
                expires_at=now + timedelta(days=7),
                link_nonce=f"nonce-{recipient.id}-{property_id}",
                send_invitation=True,
            )

        requests = [slots(office["hidden"].id, otto), slots(None, anna)]
        session.add_all([*leads, *requests])
        await session.flush()
        return World(
            inquiry_visible=visible.id,
            inquiry_hidden=hidden.id,
            inquiry_hidden_by_ref=by_ref.id,
            inquiry_public=everyone.id,
            lead_hidden=leads[0].id,
            lead_own_on_hidden=leads[1].id,
            lead_visible=leads[2].id,
            slots_hidden=requests[0].id,
            slots_own=requests[1].id,
            process_id=process.id,
            contact_id=contact.id,
            hidden_property=office["hidden"].id,
            visible_property=office["active"].id,
        )


async def _as(http: httpx.AsyncClient, email: str) -> None:
    await login(http, email, PASSWORD)


async def test_an_agents_dashboard_and_api_show_only_visible_inquiries(settings: Settings, world: World) -> None:
    async with app_client(settings, auth=None) as anna:
        await _as(anna, ANNA)
        page = await anna.get("/dashboard")
        listed = {item["id"] for item in (await anna.get("/api/inquiries")).json()["items"]}
        inquiries = (world.inquiry_visible, world.inquiry_hidden, world.inquiry_hidden_by_ref, world.inquiry_public)
        details = {i: (await anna.get(f"/api/inquiries/{i}")).status_code for i in inquiries}
        preview = await anna.get(f"/dashboard/inquiries/{world.inquiry_hidden}")
        own_preview = await anna.get(f"/dashboard/inquiries/{world.inquiry_visible}")
    assert listed == {world.inquiry_visible, world.inquiry_public}
    assert f'href="/dashboard/inquiries/{world.inquiry_visible}"' in page.text
    assert f'href="/dashboard/inquiries/{world.inquiry_hidden}"' not in page.text
    assert f'href="/dashboard/inquiries/{world.inquiry_hidden_by_ref}"' not in page.text
    assert details[world.inquiry_visible] == 200 and details[world.inquiry_public] == 200
    assert details[world.inquiry_hidden] == 404 and details[world.inquiry_hidden_by_ref] == 404
    assert preview.status_code == 404 and "Immobilie, die Sie nicht sehen" in preview.text
    assert own_preview.status_code == 200


async def test_the_manager_sees_the_inquiries_of_his_property(settings: Settings, world: World) -> None:
    async with app_client(settings, auth=None) as otto:
        await _as(otto, OTTO)
        listed = {item["id"] for item in (await otto.get("/api/inquiries")).json()["items"]}
    assert listed == {world.inquiry_hidden, world.inquiry_hidden_by_ref, world.inquiry_public}


async def test_admins_and_the_api_token_see_every_inquiry(settings: Settings, world: World) -> None:
    everything = {world.inquiry_visible, world.inquiry_hidden, world.inquiry_hidden_by_ref, world.inquiry_public}
    async with app_client(settings, auth=None) as admin, app_client(settings) as token:
        await _as(admin, ADMIN)
        by_admin = {item["id"] for item in (await admin.get("/api/inquiries")).json()["items"]}
        by_token = {item["id"] for item in (await token.get("/api/inquiries")).json()["items"]}
        preview = await admin.get(f"/dashboard/inquiries/{world.inquiry_hidden}")
    assert by_admin == everything and by_token == everything
    assert preview.status_code == 200


async def test_status_counts_count_only_what_the_agent_sees(sessions: SessionFactory, world: World) -> None:
    async with sessions() as session:
        anna_id = await session.scalar(select(User.id).where(User.email == ANNA))
        assert anna_id is not None
        agent = inquiry_condition(Viewer(user_id=anna_id, is_admin=False))
        admin = inquiry_condition(Viewer(user_id=anna_id, is_admin=True))
        seen = await queries.status_counts(session, portal=None, property_ref=None, visible=agent)
        everything = await queries.status_counts(session, portal=None, property_ref=None, visible=admin)
    assert seen["received"] == 2
    assert everything["received"] == 4


async def test_actions_on_hidden_inquiries_are_refused(settings: Settings, world: World) -> None:
    async with app_client(settings, auth=None) as anna:
        await _as(anna, ANNA)
        token = (await anna.get("/dashboard")).text.split('name="csrf-token" content="')[1].split('"')[0]
        response = await anna.post(
            f"/dashboard/inquiries/{world.inquiry_hidden}/cancel", data={"reason": "x", "csrf_token": token}
        )
    assert response.status_code == 404


async def test_leads_follow_the_rule_on_the_page_and_the_api(settings: Settings, world: World) -> None:
    async with app_client(settings, auth=None) as anna:
        await _as(anna, ANNA)
        page = (await anna.get("/leads")).text
        statuses = {
            i: (await anna.get(f"/api/leads/{i}")).status_code
            for i in (world.lead_hidden, world.lead_own_on_hidden, world.lead_visible)
        }
        hidden_page = await anna.get(f"/leads/{world.lead_hidden}")
    assert "Lead Eigen" in page and "Lead Sichtbar" in page and "Lead Fremd" not in page
    assert statuses == {world.lead_hidden: 404, world.lead_own_on_hidden: 200, world.lead_visible: 200}
    assert hidden_page.status_code == 404


async def test_slot_requests_follow_the_rule_on_the_page_and_the_api(settings: Settings, world: World) -> None:
    async with app_client(settings, auth=None) as anna, app_client(settings, auth=None) as otto:
        await _as(anna, ANNA)
        await _as(otto, OTTO)
        anna_ids = {row["id"] for row in (await anna.get("/api/slot-requests")).json()}
        otto_ids = {row["id"] for row in (await otto.get("/api/slot-requests")).json()}
        hidden_api = await anna.get(f"/api/slot-requests/{world.slots_hidden}")
        hidden_page = await anna.get(f"/slot-requests/{world.slots_hidden}")
        own_page = await anna.get(f"/slot-requests/{world.slots_own}")
        listing = (await anna.get("/slot-requests")).text
    assert anna_ids == {world.slots_own}
    assert otto_ids == {world.slots_hidden}
    assert hidden_api.status_code == 404 and hidden_page.status_code == 404
    assert own_page.status_code == 200
    assert f'href="/slot-requests/{world.slots_hidden}"' not in listing


async def test_a_visibility_row_or_visible_to_all_opens_a_property(
    settings: Settings, sessions: SessionFactory, world: World
) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Property).where(Property.external_ref == "W-1003").values(visible_to_all=True))
    async with app_client(settings, auth=None) as anna:
        await _as(anna, ANNA)
        listed = {item["id"] for item in (await anna.get("/api/inquiries")).json()["items"]}
        lead = await anna.get(f"/api/leads/{world.lead_hidden}")
    assert world.inquiry_hidden in listed and world.inquiry_hidden_by_ref in listed
    assert lead.status_code == 200


async def test_agents_file_leads_and_slot_requests_only_on_visible_properties(
    settings: Settings, sessions: SessionFactory, world: World
) -> None:
    async with sessions() as session:
        anna_id = await session.scalar(select(User.id).where(User.email == ANNA))
    async with app_client(settings, auth=None) as anna:
        token = await login(anna, ANNA, PASSWORD)
        headers = {"X-CSRF-Token": token}
        lead = {
            "title": "Neu",
            "contact_id": world.contact_id,
            "process_id": world.process_id,
            "taker_user_id": anna_id,
        }
        hidden = await anna.post("/api/leads", json={**lead, "property_id": world.hidden_property}, headers=headers)
        visible = await anna.post("/api/leads", json={**lead, "property_id": world.visible_property}, headers=headers)
        slots = {
            "contact_id": world.contact_id,
            "recipient": "user",
            "recipient_user_id": anna_id,
            "response_types": ["email"],
        }
        slots_hidden = await anna.post(
            "/api/slot-requests", json={**slots, "property_id": world.hidden_property}, headers=headers
        )
        form = (await anna.get("/leads")).text
    assert hidden.status_code == 404
    assert visible.status_code == 201, visible.text
    assert slots_hidden.status_code == 404
    assert "W-1001 ·" in form and "W-1003 ·" not in form
