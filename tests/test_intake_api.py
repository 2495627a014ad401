"""The inquiries API against the real app (lifespan included), on SQLite and PostgreSQL, with Temporal.

Every inbound body must end up stored; readable ones become exactly one inquiry and one event, unreadable
ones a quarantine row with the reason the caller got, and nothing answers 500.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from db.models import (
    Contact,
    DomainEvent,
    Inquiry,
    InquiryStep,
    Mailbox,
    Message,
    Property,
    QuarantinedPayload,
    RawPayload,
    User,
)
from db.session import SessionFactory
from settings import Settings
from starter.events.inquiries import inquiry_received_handler
from starter.intake.service import BASE64_MARKER, MAX_BODY_BYTES, OVERSIZE_KEPT_BYTES
from tests.http import app_client
from workflows.shared import PORTAL, PROPERTY_REF

DATA = Path(__file__).parent / "data" / "openimmo"


@dataclass
class Api:
    http: AsyncClient
    sessions: SessionFactory
    settings: Settings

    async def submit(self, payload: dict[str, Any]) -> Response:
        return await self.http.post("/api/inquiries", json=payload)

    async def count(self, model: type[Any]) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def events(self) -> list[DomainEvent]:
        async with self.sessions() as session:
            return list(await session.scalars(select(DomainEvent).order_by(DomainEvent.id)))

    async def raw(self, raw_id: int) -> RawPayload:
        async with self.sessions() as session:
            row = await session.get(RawPayload, raw_id)
            assert row is not None
            return row

    async def quarantined(self, quarantine_id: int) -> tuple[QuarantinedPayload, RawPayload]:
        async with self.sessions() as session:
            row = await session.get(QuarantinedPayload, quarantine_id)
            assert row is not None
            raw = await session.get(RawPayload, row.raw_payload_id)
            assert raw is not None
            return row, raw


@asynccontextmanager
async def running_app(
    settings: Settings, sessions: SessionFactory, env: WorkflowEnvironment | None
) -> AsyncIterator[Api]:
    """The real app with its lifespan (engine, services) entered, as uvicorn would."""
    async with sessions.begin() as session:  # intake files inquiries under a mailbox of the office only
        if await session.scalar(select(Mailbox).where(Mailbox.address == "anfragen@immoflow.local")) is None:
            owner = User(name="Anna Agent", email="anna@immoflow.local")
            session.add(owner)
            await session.flush()
            session.add(Mailbox(address="anfragen@immoflow.local", main_user_id=owner.id))
    async with app_client(settings, env.client if env else None) as http:
        yield Api(http, sessions, settings)


@pytest.fixture
async def api(
    settings: Settings, sessions: SessionFactory, workflow_env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[Api]:
    async with running_app(settings.model_copy(update={"task_queue": task_queue}), sessions, workflow_env) as value:
        yield value


@pytest.fixture
async def api_without_temporal(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Api]:
    # Nothing listens on port 1: every connection attempt is refused at once.
    down = settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    async with running_app(down, sessions, None) as value:
        yield value


def inquiry_json(**fields: Any) -> dict[str, Any]:
    return {
        "source": "ImmobilienScout24",
        "external_id": f"IS24-{uuid.uuid4().hex[:12]}",
        "mailbox": "anfragen@immoflow.local",
        "property_ref": "W-1001",
        "salutation": "Frau",
        "first_name": "Anna",
        "last_name": "Schäfer",
        "email": "Anna.Schaefer@Example.org",
        "phone": "030 6912345",
        "street": "Lindenstraße 12",
        "zip_code": "10969",
        "city": "Berlin",
        "message": "Ist die Wohnung noch frei?",
        "received_at": "11.11.2011 14:30",
        **fields,
    }


def assert_refused(response: Response, status: int, needle: str) -> int:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "quarantine_id"}
    assert needle in body["detail"]
    assert "Traceback" not in body["detail"]
    quarantine_id: int = body["quarantine_id"]
    return quarantine_id


# --- JSON intake -----------------------------------------------------------------------------------------


async def test_json_inquiry_is_stored_recorded_and_started(api: Api, workflow_env: WorkflowEnvironment) -> None:
    payload = inquiry_json()
    response = await api.submit(payload)

    assert response.status_code == 201, response.text
    body = response.json()
    workflow_id = f"inquiry-immobilienscout24-{payload['external_id']}"
    assert body == {
        "id": body["id"],
        "status": "received",
        "workflow_id": workflow_id,
        "duplicate": False,
        "workflow_started": True,
        "url": f"http://testserver/api/inquiries/{body['id']}",
    }
    async with api.sessions() as session:
        inquiry = await session.get(Inquiry, body["id"])
        assert inquiry is not None
        assert (inquiry.source, inquiry.external_id, inquiry.status) == (
            "immobilienscout24",
            payload["external_id"],
            "received",
        )
        assert inquiry.email == "anna.schaefer@example.org"
        assert inquiry.mailbox_address == "anfragen@immoflow.local"
        assert inquiry.property_ref == "W-1001"
        assert inquiry.received_at == datetime(2011, 11, 11, 13, 30, tzinfo=UTC)
        assert inquiry.prospect["last_name"] == "Schäfer" and inquiry.prospect["zip_code"] == "10969"
        assert inquiry.raw_payload_id is not None
        raw = await session.get(RawPayload, inquiry.raw_payload_id)
        assert raw is not None and raw.channel == "api-json"
        assert json.loads(raw.body) == payload  # the body as sent, before normalisation
        assert raw.content_type == "application/json"
        steps = list(await session.scalars(select(InquiryStep).where(InquiryStep.inquiry_id == inquiry.id)))
        assert [(step.key, step.status) for step in steps] == [("intake", "received")]

    [event] = await api.events()
    assert event.kind == "inquiry.received"
    assert event.payload == {
        "inquiry_id": body["id"],
        "source": "immobilienscout24",
        "property_ref": "W-1001",
        "mailbox": "anfragen@immoflow.local",
        "workflow_id": workflow_id,
    }

    description = await workflow_env.client.get_workflow_handle(workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.task_queue == api.settings.task_queue
    assert description.typed_search_attributes.get(PORTAL) == "immobilienscout24"
    assert description.typed_search_attributes.get(PROPERTY_REF) == "W-1001"


async def test_the_same_inquiry_again_is_the_same_inquiry(api: Api) -> None:
    payload = inquiry_json()
    first = await api.submit(payload)
    again = await api.submit({**payload, "message": "Nochmal gesendet", "source": "immobilienscout24"})

    assert first.status_code == 201
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert again.json()["workflow_id"] == first.json()["workflow_id"]
    assert again.json()["workflow_started"] is False  # idempotent start: the running one stays
    assert await api.count(Inquiry) == 1
    assert len(await api.events()) == 1
    assert await api.count(RawPayload) == 2  # every delivery is kept, duplicates too
    assert await api.count(QuarantinedPayload) == 0


async def test_simultaneous_deliveries_of_one_inquiry_make_one_row(api: Api) -> None:
    payload = inquiry_json()
    responses = await asyncio.gather(*(api.submit(payload) for _ in range(5)))

    assert sorted(response.status_code for response in responses) == [200, 200, 200, 200, 201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert await api.count(Inquiry) == 1
    assert len(await api.events()) == 1
    assert await api.count(RawPayload) == 5


async def test_same_external_id_from_another_portal_is_another_inquiry(api: Api) -> None:
    payload = inquiry_json()
    first = await api.submit(payload)
    other = await api.submit({**payload, "source": "immowelt"})
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert await api.count(Inquiry) == 2


async def test_invalid_json_is_stored_and_quarantined(api: Api) -> None:
    body = b'{"source": "immoscout24", "email": "anna@example.org",'
    response = await api.http.post("/api/inquiries", content=body, headers={"Content-Type": "application/json"})

    quarantine_id = assert_refused(response, 400, "The body is not valid JSON")
    quarantined, raw = await api.quarantined(quarantine_id)
    assert quarantined.reason == response.json()["detail"]
    assert raw.body == body.decode()
    assert raw.channel == "api-json"
    assert await api.count(Inquiry) == 0
    assert await api.events() == []


async def test_missing_email_is_quarantined_with_the_reason(api: Api) -> None:
    payload = inquiry_json()
    del payload["email"]
    quarantine_id = assert_refused(await api.submit(payload), 422, "email is required")
    _, raw = await api.quarantined(quarantine_id)
    assert json.loads(raw.body) == payload
    assert await api.count(Inquiry) == 0


async def test_wrong_types_and_unknown_fields_are_quarantined(api: Api) -> None:
    response = await api.submit(inquiry_json(phone=3012345, budget=1200))
    quarantine_id = assert_refused(response, 422, "phone must be a string (got int)")
    assert "budget is not a known field" in response.json()["detail"]
    assert (await api.quarantined(quarantine_id))[0].reason == response.json()["detail"]


async def test_oversized_body_is_refused_and_its_beginning_quarantined(api: Api) -> None:
    padding = "x" * (MAX_BODY_BYTES + 10)
    response = await api.submit(inquiry_json(message=padding))

    quarantine_id = assert_refused(response, 413, "The body is too large")
    assert "the limit is 1024 KiB" in response.json()["detail"]
    assert f"Only its first {OVERSIZE_KEPT_BYTES} bytes were kept" in response.json()["detail"]
    _, raw = await api.quarantined(quarantine_id)
    assert len(raw.body.encode()) == OVERSIZE_KEPT_BYTES
    assert raw.body.startswith('{"source":"ImmobilienScout24"')
    assert await api.count(Inquiry) == 0


async def test_oversized_stream_without_content_length_is_cut_off(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"y" * 65536  # 2.5 MiB in total, never announced

    response = await api.http.post("/api/inquiries", content=chunks())
    quarantine_id = assert_refused(response, 413, f"more than {MAX_BODY_BYTES} bytes")
    _, raw = await api.quarantined(quarantine_id)
    assert raw.body == "y" * OVERSIZE_KEPT_BYTES


async def test_body_just_under_the_limit_is_read(api: Api) -> None:
    payload = inquiry_json(message="z" * 9000)
    response = await api.submit(payload)
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"\xff\xfe\x00\x00", 400),
        (b"\x00", 400),
        (b"null", 422),
        (b"[1, 2]", 422),
        (b"[" * 50_000, 400),
        (b'{"source": "x", "external_id": "1", "email": "a@example.org", "message": "a\\u0000b"}', 422),
        (b'{"source": "x", "external_id": "1", "email": "a@example.org", "received_at": 1e999}', 422),
        (b'{"source": "x", "external_id": "1", "email": "a@example.org", "first_name": {"$gt": ""}}', 422),
        (b"1" * 5000, 400),
    ],
)
async def test_garbage_never_causes_a_500(api: Api, body: bytes, status: int) -> None:
    response = await api.http.post("/api/inquiries", content=body, headers={"Content-Type": "application/json"})
    quarantine_id = assert_refused(response, status, "")
    _, raw = await api.quarantined(quarantine_id)
    if b"\x00" in body or not body.isascii():
        # Not storable as text (NUL, not UTF-8): kept byte for byte as base64.
        assert raw.content_type == "application/json" + BASE64_MARKER
        assert base64.b64decode(raw.body) == body
    else:
        assert raw.body == body.decode()


# --- OpenImmo XML intake ---------------------------------------------------------------------------------


async def post_xml(api: Api, name: str, **params: str) -> Response:
    return await api.http.post(
        "/api/inquiries/openimmo",
        content=(DATA / name).read_bytes(),
        params=params,
        headers={"Content-Type": "application/xml"},
    )


async def test_openimmo_document_becomes_an_inquiry(api: Api, workflow_env: WorkflowEnvironment) -> None:
    response = await post_xml(
        api, "feedback_immoscout24.xml", mailbox="anfragen@immoflow.local", source=uuid.uuid4().hex
    )
    assert response.status_code == 201, response.text
    body = response.json()
    async with api.sessions() as session:
        inquiry = await session.get(Inquiry, body["id"])
        assert inquiry is not None
        assert (inquiry.external_id, inquiry.email, inquiry.property_ref) == (
            "IS24-a7f3c9e1-2b44",
            "anna.schaefer@example.org",
            "W-1001",
        )
        assert inquiry.prospect["mobile"] == "0171 2345678"
        raw = await session.get(RawPayload, inquiry.raw_payload_id)
        assert raw is not None and raw.channel == "openimmo"
        assert raw.body == (DATA / "feedback_immoscout24.xml").read_text(encoding="utf-8")
    description = await workflow_env.client.get_workflow_handle(body["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING

    again = await post_xml(api, "feedback_immoscout24.xml", mailbox="anfragen@immoflow.local", source=inquiry.source)
    assert (again.status_code, again.json()["id"], again.json()["duplicate"]) == (200, body["id"], True)
    assert len(await api.events()) == 1


async def test_latin1_document_is_stored_byte_for_byte(api: Api) -> None:
    response = await post_xml(
        api, "feedback_immowelt_latin1.xml", source=uuid.uuid4().hex, mailbox="anfragen@immoflow.local"
    )
    assert response.status_code == 201, response.text
    async with api.sessions() as session:
        inquiry = await session.get(Inquiry, response.json()["id"])
        assert inquiry is not None and inquiry.prospect["city"] == "Köln"
        raw = await session.get(RawPayload, inquiry.raw_payload_id)
    assert raw is not None and raw.content_type == "application/xml" + BASE64_MARKER
    assert base64.b64decode(raw.body) == (DATA / "feedback_immowelt_latin1.xml").read_bytes()


@pytest.mark.parametrize(
    ("name", "status", "needle"),
    [
        ("malformed.xml", 400, "Malformed XML"),
        ("billion_laughs.xml", 400, "billion laughs"),
        ("external_entity.xml", 400, "external entities are refused"),
        ("wrong_encoding.xml", 400, "not in the encoding it names"),
        ("missing_email.xml", 422, "interessent/email is required"),
        ("wrong_root.xml", 422, "root <openimmo_feedback>"),
    ],
)
async def test_broken_openimmo_documents_are_quarantined(api: Api, name: str, status: int, needle: str) -> None:
    response = await post_xml(api, name)
    quarantine_id = assert_refused(response, status, needle)
    quarantined, raw = await api.quarantined(quarantine_id)
    assert quarantined.reason == response.json()["detail"]
    assert raw.channel == "openimmo"
    stored = base64.b64decode(raw.body) if raw.content_type and BASE64_MARKER in raw.content_type else raw.body.encode()
    assert stored == (DATA / name).read_bytes()
    assert await api.count(Inquiry) == 0
    assert await api.events() == []


async def test_invalid_mailbox_parameter_is_named(api: Api) -> None:
    response = await post_xml(api, "feedback_immoscout24.xml", mailbox="kein postfach")
    assert_refused(response, 422, "mailbox parameter 'kein postfach' is not an email address")


# --- Temporal unavailable --------------------------------------------------------------------------------


async def test_intake_works_while_temporal_is_down_and_the_event_starts_it_later(
    api_without_temporal: Api, workflow_env: WorkflowEnvironment, task_queue: str
) -> None:
    api = api_without_temporal
    response = await api.submit(inquiry_json())
    assert response.status_code == 202, response.text
    assert response.json()["workflow_started"] is None
    workflow_id = response.json()["workflow_id"]

    # The dispatcher delivers inquiry.received once Temporal is reachable; twice is harmless.
    [event] = await api.events()
    handler = inquiry_received_handler(task_queue)
    await handler(workflow_env.client, event)
    await handler(workflow_env.client, event)
    description = await workflow_env.client.get_workflow_handle(workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.task_queue == task_queue


# --- reading ---------------------------------------------------------------------------------------------


async def test_list_filters_pages_and_sorts_newest_first(api: Api) -> None:
    base = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    ids = []
    for index, (portal, ref) in enumerate(
        [("immowelt", "W-1001"), ("immobilienscout24", "W-1001"), ("immobilienscout24", "W-2002"), ("immonet", None)]
    ):
        received = (base + timedelta(hours=index)).isoformat()
        response = await api.submit(inquiry_json(source=portal, property_ref=ref, received_at=received))
        ids.append(response.json()["id"])
    async with api.sessions.begin() as session:
        (await session.get_one(Inquiry, ids[0])).status = "completed"
        (await session.get_one(Inquiry, ids[3])).status = "ignored"

    everything = (await api.http.get("/api/inquiries")).json()
    assert everything["total"] == 3  # ignored ones are not on the dashboard
    assert [item["id"] for item in everything["items"]] == [ids[2], ids[1], ids[0]]
    assert everything["items"][0]["prospect_name"] == "Anna Schäfer"

    with_ignored = (await api.http.get("/api/inquiries", params={"include_ignored": "true"})).json()
    assert with_ignored["total"] == 4
    ignored = (await api.http.get("/api/inquiries", params={"status": "ignored"})).json()
    assert [item["id"] for item in ignored["items"]] == [ids[3]]

    received = (await api.http.get("/api/inquiries", params={"status": ["received", "completed"]})).json()
    assert received["total"] == 3
    completed = (await api.http.get("/api/inquiries", params={"status": "completed"})).json()
    assert [item["id"] for item in completed["items"]] == [ids[0]]
    by_portal = (await api.http.get("/api/inquiries", params={"portal": "immobilienscout24"})).json()
    assert [item["id"] for item in by_portal["items"]] == [ids[2], ids[1]]
    by_property = (await api.http.get("/api/inquiries", params={"property_ref": "W-1001"})).json()
    assert [item["id"] for item in by_property["items"]] == [ids[1], ids[0]]

    page_two = (await api.http.get("/api/inquiries", params={"page": 2, "page_size": 2})).json()
    assert (page_two["total"], page_two["page"], page_two["page_size"]) == (3, 2, 2)
    assert [item["id"] for item in page_two["items"]] == [ids[0]]

    assert (await api.http.get("/api/inquiries", params={"status": "nonsense"})).status_code == 422
    assert (await api.http.get("/api/inquiries", params={"page_size": 1000})).status_code == 422


async def test_detail_tells_status_contact_property_timeline_and_messages(api: Api) -> None:
    inquiry_id = (await api.submit(inquiry_json())).json()["id"]
    async with api.sessions.begin() as session:
        agent = User(email="makler@office.example", name="Maria Makler")
        session.add(agent)
        await session.flush()
        session.add(Property(external_ref="W-1001", title="Altbau mit Balkon", manager_user_id=agent.id, city="Berlin"))
        known = Contact(first_name="Anna", last_name="Schäfer", email="anna.schaefer@example.org", zip_code="10969")
        session.add(known)
        await session.flush()
        inquiry = await session.get_one(Inquiry, inquiry_id)
        inquiry.status = "aborted"
        inquiry.reason = f"Dublette von Kontakt #{known.id}"
        inquiry.duplicate_contact_id = known.id
        inquiry.next_step = "Aufgabe für Maria Makler"
        inquiry.next_step_at = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
        session.add(
            InquiryStep(
                inquiry_id=inquiry_id,
                key="aborted",
                at=datetime.now(UTC) + timedelta(seconds=5),
                status="aborted",
                title="Dublette gefunden",
                detail=None,
            )
        )
        session.add(
            Message(
                idempotency_key=f"inquiry:{inquiry_id}:confirmation",
                template_key="inquiry_confirmation",
                sender="Maria Makler <makler@office.example>",
                recipient="anna.schaefer@example.org",
                subject="Bitte bestätigen Sie Ihre Anfrage",
                body_text="…",
                status="sent",
                inquiry_id=inquiry_id,
            )
        )

    response = await api.http.get(f"/api/inquiries/{inquiry_id}")
    assert response.status_code == 200
    detail = response.json()
    assert (detail["status"], detail["reason"]) == ("aborted", f"Dublette von Kontakt #{known.id}")
    assert detail["next_step"] == "Aufgabe für Maria Makler"
    assert detail["next_step_at"].startswith("2025-03-03T09:00:00")
    assert detail["contact"] is None
    assert detail["duplicate_contact"]["id"] == known.id
    assert detail["duplicate_contact"]["name"] == "Anna Schäfer"
    assert detail["property"]["ref"] == "W-1001"
    assert detail["property"]["manager_name"] == "Maria Makler"
    assert [step["key"] for step in detail["timeline"]] == ["intake", "aborted"]
    assert all(step["at"] for step in detail["timeline"])
    assert [(m["template_key"], m["status"]) for m in detail["messages"]] == [("inquiry_confirmation", "sent")]
    assert detail["prospect"]["first_name"] == "Anna"
    assert detail["temporal_ui_url"].endswith("/workflows/" + detail["workflow_id"])


async def test_unknown_inquiry_is_404(api: Api) -> None:
    response = await api.http.get("/api/inquiries/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Inquiry 999999 does not exist."}


async def test_openapi_documents_the_json_schema(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    body = spec["paths"]["/api/inquiries"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"source", "external_id", "email"}
    assert "received_at" in body["properties"]
    assert "application/xml" in spec["paths"]["/api/inquiries/openimmo"]["post"]["requestBody"]["content"]
