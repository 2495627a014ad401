"""The SMS gateway boundary and what an SMS costs: HTTP gateway (retryable vs. permanent), dev sink, accounting."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.messages import MessageActivities
from activities.slot_requests import SlotRequestActivities
from db.base import utcnow
from db.models import Message
from db.session import SessionFactory
from db.slot_store import NewSlotRequest, create_slot_request
from domain.slot_routing import Delivery, ResponseType, Target
from messaging.sms import DevSmsSink, HttpSmsTransport, SmsGatewayError, read_sms, sms_text, sms_transport
from messaging.transport import PermanentDeliveryError
from settings import Settings
from tests.slot_harness import reserve_slot_ids, slot_office
from workflows.slot_models import SlotMailRequest


def gateway_settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path,
        secret_key=SecretStr("k"),
        sms_gateway_url="https://sms.example.com/v1/messages",
        sms_gateway_token=SecretStr("gateway-token"),
        sms_sender="Makler",
    )


def sms(message_id: int = 5) -> Message:
    return Message(
        id=message_id,
        idempotency_key=f"slots:1:response:sms:{message_id}",
        channel="sms",
        sender="Makler",
        recipient="+49 151 1234567",
        body_text="Terminvorschläge von Nina Neu",
        cost_cents=9,
        billing_account="KST-ANNA",
    )


async def test_gateway_gets_json_with_bearer_token_and_idempotency_key(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "gw-42"})

    transport = HttpSmsTransport(gateway_settings(tmp_path), transport=httpx.MockTransport(handler))
    assert await transport.send(sms()) == "gw-42"
    [request] = seen
    assert request.method == "POST" and str(request.url) == "https://sms.example.com/v1/messages"
    assert request.headers["authorization"] == "Bearer gateway-token"
    assert request.headers["idempotency-key"] == "slots:1:response:sms:5"
    assert json.loads(request.content) == {
        "to": "+49 151 1234567",
        "from": "Makler",
        "text": "Terminvorschläge von Nina Neu",
        "reference": "slots:1:response:sms:5",
        "billing_account": "KST-ANNA",
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, SmsGatewayError),
        (503, SmsGatewayError),
        (429, SmsGatewayError),
        (408, SmsGatewayError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (422, PermanentDeliveryError),
    ],
)
async def test_5xx_and_rate_limits_are_retried_other_4xx_are_final(
    tmp_path: Path, status: int, error: type[Exception]
) -> None:
    transport = HttpSmsTransport(
        gateway_settings(tmp_path), transport=httpx.MockTransport(lambda _: httpx.Response(status, text="nope"))
    )
    with pytest.raises(error, match=str(status)):
        await transport.send(sms())


async def test_timeouts_propagate_as_retryable(tmp_path: Path) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("gateway too slow", request=request)

    transport = HttpSmsTransport(gateway_settings(tmp_path), transport=httpx.MockTransport(slow))
    with pytest.raises(httpx.TimeoutException):
        await transport.send(sms())


async def test_a_gateway_without_id_in_its_answer_gets_the_key(tmp_path: Path) -> None:
    transport = HttpSmsTransport(
        gateway_settings(tmp_path), transport=httpx.MockTransport(lambda _: httpx.Response(202, text="queued"))
    )
    assert await transport.send(sms()) == "slots:1:response:sms:5"


async def test_dev_sink_records_one_file_per_message(tmp_path: Path) -> None:
    sink = DevSmsSink(tmp_path / "sms")
    assert await sink.send(sms(5)) == "dev-sms-5"
    await sink.send(sms(5))  # a retried attempt replaces its file
    await sink.send(sms(6))
    records = read_sms(tmp_path / "sms")
    assert [r["message_id"] for r in records] == [6, 5]
    assert records[0]["cost_cents"] == 9 and records[0]["billing_account"] == "KST-ANNA"


def test_transport_choice_and_text_length(tmp_path: Path) -> None:
    assert isinstance(sms_transport(gateway_settings(tmp_path)), HttpSmsTransport)
    assert isinstance(sms_transport(Settings(env="test", data_dir=tmp_path)), DevSmsSink)
    long = sms_text("Terminvorschläge:\n" + "Di, 01.12.2026, 10:00–11:00 Uhr; " * 10)
    assert len(long) == 160 and long.endswith("…") and "\n" not in long


async def test_each_sms_records_its_cost_against_the_recipients_billing_account(
    sessions: SessionFactory, settings: Settings
) -> None:
    """Seed 001: the SMS costs money and the recipient pays. Two answers by SMS: two rows of 12 cents on
    Anna's account, delivered through the outbox (sent status, the dev sink's record)."""
    settings = settings.model_copy(update={"sms_cost_cents": 12})
    office = await slot_office(sessions)
    await reserve_slot_ids(sessions)
    activities = SlotRequestActivities(sessions, settings)
    delivery_activities = MessageActivities(sessions, {"sms": sms_transport(settings)})
    delivery = Delivery(
        channel=ResponseType.SMS, target=Target.USER, user_id=office.agent_id, billing_account="KST-ANNA"
    )
    env = ActivityEnvironment()
    for _ in range(2):
        async with sessions.begin() as session:
            request = await create_slot_request(
                session,
                NewSlotRequest(
                    contact_id=office.prospect_id,
                    property_id=office.property_id,
                    recipient="user",
                    recipient_user_id=office.agent_id,
                    response_types=["sms"],
                ),
                now=utcnow(),
            )
        mail = SlotMailRequest(
            request_id=request.id, kind="sms", idempotency_key=f"slots:{request.id}:response:sms", delivery=delivery
        )
        message_id = await env.run(activities.compose_slot_message, mail)
        assert await env.run(activities.compose_slot_message, mail) == message_id  # a retry: the same row
        await env.run(delivery_activities.deliver_message, message_id)

    async with sessions() as session:
        rows = list(await session.scalars(select(Message).where(Message.channel == "sms")))
        billed = await session.execute(
            select(Message.billing_account, func.sum(Message.cost_cents), func.count())
            .where(Message.channel == "sms", Message.status == "sent")
            .group_by(Message.billing_account)
        )
    assert [(r.recipient, r.user_id, r.sender) for r in rows] == [("+49 151 1234567", office.agent_id, "immoflow")] * 2
    assert [tuple(row) for row in billed] == [("KST-ANNA", 24, 2)]
    assert len(read_sms(settings.data_dir / "sms")) == 2
