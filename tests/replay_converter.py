"""The data converter histories are replayed with: production's (pydantic + the AES-GCM codec).

The key below encrypts the recorded test histories only (tests/histories/*-encrypted.json); it has never
protected real data. Plain histories replay through the same converter, since the codec passes plain
payloads through (payloads written before the codec was switched on stay readable).
"""

from __future__ import annotations

from pydantic import SecretStr
from temporalio.converter import DataConverter

from settings import Settings
from starter.temporal.client import data_converter

REPLAY_CODEC_KEYS = "replay-test:cmVwbGF5LXRlc3Qta2V5LW5vdC1hLXNlY3JldC0zMmI="


def replay_settings() -> Settings:
    return Settings(env="test", secret_key=SecretStr("replay"), codec_keys=SecretStr(REPLAY_CODEC_KEYS))


def production_converter() -> DataConverter:
    return data_converter(replay_settings())
