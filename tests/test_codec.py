"""The AES-GCM payload codec: round trip, key rotation, what Temporal stores, and the codec server."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from google.protobuf import json_format
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from settings import Settings
from starter.temporal.client import data_converter
from starter.temporal.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecConfigError,
    CodecKeyError,
    EncryptionCodec,
    codec_from_settings,
    new_key,
    parse_keys,
)
from starter.temporal.codec_server import create_codec_app

SECRET = "anna.prospect@example.com"
UI = "http://ui.example:8080"


def key_bytes() -> bytes:
    return os.urandom(32)


def settings_with(keys: str | None, active: str | None = None, **extra: object) -> Settings:
    return Settings(
        env="test",
        codec_keys=keys,
        codec_active_key=active,
        temporal_ui_url=UI,
        _env_file=None,
        **extra,  # type: ignore[arg-type]
    )


def plain(text: str) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([text])[0]


# --- codec ----------------------------------------------------------------------------------------------


async def test_round_trip_hides_the_plaintext_and_names_the_key() -> None:
    codec = EncryptionCodec({"k1": key_bytes()}, "k1")
    original = plain(SECRET)
    [encrypted] = await codec.encode([original])
    assert encrypted.metadata["encoding"] == ENCODING
    assert encrypted.metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET.encode() not in encrypted.SerializeToString()
    [decrypted] = await codec.decode([encrypted])
    assert decrypted == original


async def test_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec({"k1": key_bytes()}, "k1")
    first, second = await codec.encode([plain(SECRET), plain(SECRET)])
    assert first.data != second.data  # random nonce per payload


async def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    k1, k2 = key_bytes(), key_bytes()
    before = EncryptionCodec({"k1": k1}, "k1")
    [old] = await before.encode([plain(SECRET)])
    after = EncryptionCodec({"k2": k2, "k1": k1}, "k2")
    [new] = await after.encode([plain(SECRET)])
    assert new.metadata[KEY_ID_METADATA] == b"k2"
    assert await after.decode([old, new]) == [plain(SECRET), plain(SECRET)]
    # Once k1 is dropped, its payloads fail with a message naming the missing key.
    dropped = EncryptionCodec({"k2": k2}, "k2")
    with pytest.raises(CodecKeyError, match=r"'k1'.*not in IMMOFLOW_CODEC_KEYS"):
        await dropped.decode([old])


async def test_wrong_key_material_or_relabelled_payload_fails_clearly() -> None:
    [sealed] = await EncryptionCodec({"k1": key_bytes()}, "k1").encode([plain(SECRET)])
    with pytest.raises(CodecKeyError, match="does not authenticate"):
        await EncryptionCodec({"k1": key_bytes()}, "k1").decode([sealed])
    k1, k2 = key_bytes(), key_bytes()
    [sealed] = await EncryptionCodec({"k1": k1}, "k1").encode([plain(SECRET)])
    sealed.metadata[KEY_ID_METADATA] = b"k2"
    with pytest.raises(CodecKeyError, match="does not authenticate"):
        await EncryptionCodec({"k1": k1, "k2": k2}, "k1").decode([sealed])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    codec = EncryptionCodec({"k1": key_bytes()}, "k1")
    assert await codec.decode([plain("old")]) == [plain("old")]


def test_parse_keys_accepts_the_documented_format() -> None:
    a, b = new_key(), new_key()
    keys = parse_keys(f" k2:{a} , k1:{b} ")
    assert list(keys) == ["k2", "k1"]
    assert keys["k2"] == base64.b64decode(a)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k1", "expected 'id:base64'"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "5 bytes"),
        (f"k1:{new_key()},k1:{new_key()}", "listed twice"),
        (",", "holds no key"),
        (f"bad id:{new_key()}", "expected 'id:base64'"),
    ],
    ids=["no-key", "not-base64", "short", "duplicate-id", "empty", "bad-id"],
)
def test_parse_keys_rejects_bad_configuration(spec: str, message: str) -> None:
    with pytest.raises(CodecConfigError, match=message):
        parse_keys(spec)


def test_codec_is_off_by_default_and_configured_from_settings() -> None:
    assert codec_from_settings(settings_with(None)) is None
    assert data_converter(settings_with(None)) is pydantic_data_converter
    keys = f"k2:{new_key()},k1:{new_key()}"
    codec = codec_from_settings(settings_with(keys))
    assert codec is not None and codec.active_key_id == "k2" and codec.key_ids == ["k2", "k1"]
    codec = codec_from_settings(settings_with(keys, active="k1"))
    assert codec is not None and codec.active_key_id == "k1"
    with pytest.raises(CodecConfigError, match="'k3' is not among"):
        codec_from_settings(settings_with(keys, active="k3"))
    converter = data_converter(settings_with(keys))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    # Failure messages go through the codec too.
    assert converter.failure_converter._encode_common_attributes  # type: ignore[attr-defined]


# --- against Temporal -----------------------------------------------------------------------------------


@activity.defn(name="codec_test_refuse")
async def refuse(recipient: str) -> str:
    raise ApplicationError(f"recipient refused: {recipient}", non_retryable=True)


@workflow.defn(name="CodecTestWorkflow")
class EchoWorkflow:
    @workflow.run
    async def run(self, recipient: str) -> str:
        # The failure (which quotes the address) is what the test looks for in the history.
        with contextlib.suppress(ActivityError):
            await workflow.execute_activity(
                refuse,
                recipient,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        return f"hello {recipient}"


@pytest.fixture
async def codec_client(workflow_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    settings = settings_with(f"k1:{new_key()}")
    yield Client(
        workflow_env.client.service_client,
        namespace=workflow_env.client.namespace,
        data_converter=data_converter(settings),
    )


async def test_history_holds_only_ciphertext(
    workflow_env: WorkflowEnvironment, codec_client: Client, task_queue: str
) -> None:
    workflow_id = f"codec-{uuid.uuid4()}"
    # Unsandboxed: the test is about payloads, not about the sandbox re-importing this module.
    async with Worker(
        codec_client,
        task_queue=task_queue,
        workflows=[EchoWorkflow],
        activities=[refuse],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        result = await codec_client.execute_workflow(EchoWorkflow.run, SECRET, id=workflow_id, task_queue=task_queue)
    assert result == f"hello {SECRET}"

    # A client without the key (the plain converter) sees ciphertext: nowhere in the raw history is the
    # address, neither in the input, the result nor the activity's failure message.
    history = await workflow_env.client.get_workflow_handle(workflow_id).fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert SECRET.encode() not in raw
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    failed = next(e for e in history.events if e.HasField("activity_task_failed_event_attributes"))
    assert failed.activity_task_failed_event_attributes.failure.message == "Encoded failure"
    with pytest.raises(Exception, match="binary/encrypted"):
        await workflow_env.client.get_workflow_handle(workflow_id).result()
    # The client with the key reads it back.
    assert await codec_client.get_workflow_handle(workflow_id).result() == f"hello {SECRET}"


async def test_workflow_failure_message_is_encrypted_too(
    workflow_env: WorkflowEnvironment, codec_client: Client, task_queue: str
) -> None:
    workflow_id = f"codec-fail-{uuid.uuid4()}"
    async with Worker(
        codec_client,
        task_queue=task_queue,
        workflows=[FailingWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        with pytest.raises(WorkflowFailureError) as caught:
            await codec_client.execute_workflow(FailingWorkflow.run, SECRET, id=workflow_id, task_queue=task_queue)
    assert SECRET in str(caught.value.cause)  # decoded for the client with the key
    history = await workflow_env.client.get_workflow_handle(workflow_id).fetch_history()
    assert SECRET.encode() not in b"".join(event.SerializeToString() for event in history.events)


@workflow.defn(name="CodecTestFailingWorkflow")
class FailingWorkflow:
    @workflow.run
    async def run(self, recipient: str) -> None:
        raise ApplicationError(f"cannot reach {recipient}", non_retryable=True)


# --- codec server ---------------------------------------------------------------------------------------


@pytest.fixture
async def codec_server() -> AsyncIterator[httpx.AsyncClient]:
    app = create_codec_app(settings_with(f"k2:{new_key()},k1:{new_key()}", temporal_namespace="immo"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        yield client


def as_json(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


async def test_codec_server_encodes_and_decodes(codec_server: httpx.AsyncClient) -> None:
    headers = {"X-Namespace": "immo", "Origin": UI}
    body = as_json([plain(SECRET)])
    assert set(json.loads(body)) == {"payloads"}
    encoded = await codec_server.post("/encode", content=body, headers=headers)
    assert encoded.status_code == 200, encoded.text
    assert SECRET not in encoded.text
    first = json.loads(encoded.text)["payloads"][0]
    assert base64.b64decode(first["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(first["metadata"][KEY_ID_METADATA]) == b"k2"
    assert encoded.headers["access-control-allow-origin"] == UI

    decoded = await codec_server.post("/decode", content=encoded.text, headers=headers)
    assert decoded.status_code == 200, decoded.text
    payload = json_format.Parse(decoded.text, Payloads()).payloads[0]
    assert pydantic_data_converter.payload_converter.from_payloads([payload]) == [SECRET]
    # The CLI's form: the namespace in the path.
    assert (await codec_server.post("/immo/decode", content=encoded.text)).status_code == 200


async def test_codec_server_serves_only_its_namespace(codec_server: httpx.AsyncClient) -> None:
    body = as_json([plain("x")])
    response = await codec_server.post("/decode", content=body, headers={"X-Namespace": "other"})
    assert response.status_code == 403
    assert "'immo'" in response.json()["error"]
    assert (await codec_server.post("/other/decode", content=body)).status_code == 403


async def test_codec_server_rejects_bad_input_with_400(codec_server: httpx.AsyncClient) -> None:
    assert (await codec_server.post("/decode", content=b"{not json")).status_code == 400
    [foreign] = await EncryptionCodec({"k9": key_bytes()}, "k9").encode([plain(SECRET)])
    response = await codec_server.post("/decode", content=as_json([foreign]))
    assert response.status_code == 400
    assert "'k9'" in response.json()["error"]


async def test_codec_server_cors_admits_only_the_ui_origin(codec_server: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    ok = await codec_server.options("/decode", headers={"Origin": UI, **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in ok.headers["access-control-allow-headers"].lower()

    evil = await codec_server.options("/decode", headers={"Origin": "https://evil.example", **preflight})
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    posted = await codec_server.post(
        "/decode", content=as_json([plain("x")]), headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in posted.headers


def test_codec_server_needs_keys() -> None:
    with pytest.raises(CodecConfigError, match="IMMOFLOW_CODEC_KEYS"):
        create_codec_app(settings_with(None))
