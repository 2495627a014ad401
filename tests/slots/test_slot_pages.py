"""/slots/{token} over HTTP: viewing and general page, validation, thank-you, reuse, expiry, forgery, /dev/sms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.models import Message, RawPayload, SlotRequest
from db.session import SessionFactory
from db.slot_store import slot_link
from domain.links import LinkSigner
from messaging.inquiry_mail import CONFIRM_PURPOSE
from messaging.sms import DevSmsSink
from settings import Settings
from tests.http import app_client
from tests.slot_harness import OFFICE_TIME, SlotHarness, proposals, temporal_down
from workflows.slot_models import ProposedSlot, SlotState, slot_workflow_id

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]
XSS = '<script>alert("x")</script> & Grüße'


def path(settings: Settings, request: SlotRequest) -> str:
    return slot_link(settings, request).removeprefix(settings.public_base_url)


def form_data(slots: list[ProposedSlot], comment: str = "") -> dict[str, Any]:
    """The form as a browser posts it, in the office's local time."""
    local = [(s.starts_at.astimezone(OFFICE_TIME), s.ends_at.astimezone(OFFICE_TIME)) for s in slots]
    return {
        "slot_date": [start.strftime("%Y-%m-%d") for start, _ in local],
        "slot_start": [start.strftime("%H:%M") for start, _ in local],
        "slot_end": [end.strftime("%H:%M") for _, end in local],
        "comment": comment,
    }


async def raw_count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RawPayload)) or 0)


async def test_viewing_page_shows_cover_key_data_and_viewing_text(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    request = await harness.create(await workflow_env.get_current_time())
    async with app_client(settings, workflow_env.client, auth=None) as http:
        page = await http.get(path(settings, request))
    assert page.status_code == 200
    html = page.text
    assert "Besichtigung: Helle 3-Zimmer-Wohnung am Park" in html
    assert 'src="/static/demo/w-1001.jpg"' in html
    for fact in ("Wohnung", "Zimmer", "Wohnfläche", "1.250 €", "10115 Berlin", "W-1001"):
        assert fact in html
    assert "Sie möchten die Immobilie besichtigen?" in html  # the default viewing text
    assert html.count('name="slot_date"') == 5
    assert "Hauptnavigation" not in html  # a prospect page: no office navigation


async def test_general_page_uses_the_configured_text(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with app_client(settings, workflow_env.client) as http:
        saved = await http.put(
            "/api/settings/time-slots", json={"general_text": "Wann passt es Ihnen bei uns im Büro?"}
        )
        assert saved.status_code == 200, saved.text
        request = await harness.create(await workflow_env.get_current_time(), property_id=None)
        page = await http.get(path(settings, request))
    assert page.status_code == 200
    assert "Wann passt es Ihnen bei uns im Büro?" in page.text
    assert "Besichtigung" not in page.text and "<img" not in page.text


async def test_three_slots_are_thanked_for_and_a_second_submission_is_refused(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now, response_types=["email", "task", "sms"])
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    slots = proposals(now, 3)
    async with app_client(settings, workflow_env.client, auth=None) as http:
        done = await http.post(path(settings, request), data=form_data(slots, XSS))
        assert done.status_code == 200, done.text
        assert "Vielen Dank" in done.text and done.text.count("<li>") == 3
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Grüße" in done.text
        assert "<script>alert" not in done.text
        snapshot = await harness.wait_until_routed(handle)
        assert [d.channel.value for d in snapshot.deliveries] == ["email", "task", "sms"]

        again = await http.post(path(settings, request), data=form_data(proposals(now, 1, days=9)))
        assert again.status_code == 409 and "Bereits beantwortet" in again.text
        revisit = await http.get(path(settings, request))
        assert revisit.status_code == 409
    assert await raw_count(harness.sessions) == 1  # the spent link stores nothing (issue 17.3)
    row = await harness.row(request.id)
    assert row.comment == XSS and row.status == "answered"
    messages = await harness.messages(request.id)
    assert [m.channel for m in messages] == ["email", "email", "sms"]  # invitation, one answer, one SMS


async def test_invalid_slots_show_the_form_again_escaped(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now)
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    six = proposals(now, 6)
    [first] = proposals(now, 1)
    half_hour = timedelta(minutes=30)
    overlap = [first, ProposedSlot(starts_at=first.starts_at + half_hour, ends_at=first.ends_at + half_hour)]
    backwards = [ProposedSlot(starts_at=first.ends_at, ends_at=first.starts_at)]
    async with app_client(settings, workflow_env.client, auth=None) as http:
        too_many = await http.post(path(settings, request), data=form_data(six, XSS))
        overlapping = await http.post(path(settings, request), data=form_data(overlap))
        reversed_ = await http.post(path(settings, request), data=form_data(backwards))
    assert too_many.status_code == 422 and "höchstens 5 Termine" in too_many.text
    assert too_many.text.count('name="slot_date"') == 6
    assert "&lt;script&gt;" in too_many.text and "<script>alert" not in too_many.text
    assert overlapping.status_code == 422 and "überschneidet sich" in overlapping.text
    assert reversed_.status_code == 422 and "Ende muss nach dem Beginn" in reversed_.text
    assert (await harness.row(request.id)).status == "waiting"
    assert await raw_count(harness.sessions) == 3


async def test_a_past_slot_is_refused_on_the_page(harness: SlotHarness, settings: Settings) -> None:
    wall = datetime.now(UTC)
    request = await harness.create(wall, expires_at=wall + timedelta(days=3))
    past = proposals(wall, 1, days=-1)  # yesterday 10:00: in the past at any hour, never across midnight
    async with app_client(temporal_down(settings), auth=None) as http:
        response = await http.post(path(settings, request), data=form_data(past))
    assert response.status_code == 422 and "in der Vergangenheit" in response.text


async def test_forged_and_foreign_links_are_refused(harness: SlotHarness, settings: Settings) -> None:
    wall = datetime.now(UTC)
    request = await harness.create(wall)
    good = path(settings, request)
    signer = LinkSigner(settings.effective_secret_key())
    confirm_token = signer.sign(
        CONFIRM_PURPOSE,
        workflow_id=slot_workflow_id(request.id),
        nonce=request.link_nonce,
        expires_at=request.expires_at,
    )
    wrong_nonce = signer.sign(
        "slots", workflow_id=slot_workflow_id(request.id), nonce="x" * 24, expires_at=request.expires_at
    )
    async with app_client(temporal_down(settings), auth=None) as http:
        for bad in (good[:-3] + "abc", f"/slots/{confirm_token}", f"/slots/{wrong_nonce}", "/slots/nonsense"):
            page = await http.get(bad)
            assert page.status_code == 404 and "Link ungültig" in page.text, bad
        posted = await http.post(good[:-3] + "abc", data={"slot_date": ["2030-01-01"], "comment": "hallo"})
    assert posted.status_code == 404
    assert await raw_count(harness.sessions) == 0  # the link is checked before anything is stored


async def test_expired_link_says_so(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    wall = datetime.now(UTC)
    old = await harness.create(wall - timedelta(days=3), expires_at=wall - timedelta(minutes=1))
    now = await workflow_env.get_current_time()
    ran_out = await harness.create(now, expires_at=now + timedelta(days=1))
    assert (await (await harness.start(ran_out)).result()).state == SlotState.EXPIRED
    async with app_client(settings, workflow_env.client, auth=None) as http:
        for request in (old, ran_out):
            page = await http.get(path(settings, request))
            assert page.status_code == 410 and "Link abgelaufen" in page.text


async def test_office_api_is_not_public_but_the_page_is(harness: SlotHarness, settings: Settings) -> None:
    request = await harness.create(datetime.now(UTC))
    async with app_client(temporal_down(settings), auth=None) as http:
        assert (await http.get(f"/api/slot-requests/{request.id}")).status_code == 401
        assert (await http.get(path(settings, request))).status_code == 200


async def test_dev_sms_lists_what_the_sink_recorded_and_hides_in_production(settings: Settings) -> None:
    message = Message(
        id=7,
        idempotency_key="slots:1:response:sms",
        channel="sms",
        sender="immoflow",
        recipient="+49 151 1234567",
        body_text="Terminvorschläge von <b>Nina</b>: Di, 01.12.2026, 10:00–11:00 Uhr",
        cost_cents=9,
        billing_account="KST-ANNA",
    )
    await DevSmsSink(settings.data_dir / "sms").send(message)
    async with app_client(temporal_down(settings.model_copy(update={"env": "development"}))) as http:
        page = await http.get("/dev/sms")
    assert page.status_code == 200
    assert "&lt;b&gt;Nina&lt;/b&gt;" in page.text and "KST-ANNA" in page.text and "0,09 €" in page.text
    assert re.search(r"1 SMS, zusammen 0,09 €", page.text)
    async with app_client(settings) as http:  # the test suite's own env: not development, no /dev/*
        assert (await http.get("/dev/sms")).status_code == 404
