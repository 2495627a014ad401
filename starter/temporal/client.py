"""The one way to get a Temporal client: pydantic data converter, address and namespace from settings."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from settings import Settings, get_settings
from starter.temporal.codec import codec_from_settings


async def connect_client(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Client:
    """RUNTIME: e.g. the worker's, which exports SDK metrics (`starter.ops.metrics.sdk_runtime`)."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime,
    )


def data_converter(settings: Settings | None = None) -> DataConverter:
    """Shared by client and worker so both read and write payloads the same way."""
    codec = codec_from_settings(settings or get_settings())
    if codec is None:
        return pydantic_data_converter
    # Failure messages and stack traces can quote personal data ("recipient refused: …"): with the
    # codec on they move into an encoded attribute instead of standing in the history in clear text.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
